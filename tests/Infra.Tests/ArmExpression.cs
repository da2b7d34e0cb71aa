namespace Keybrake.Infra.Tests;

/// <summary>
/// A parsed ARM template expression (the text between the brackets of "[...]"): a function call with its
/// arguments, a string or number literal, each followed by any property accesses. Enough to read which
/// keys an expression like <c>union(parameters('a'), if(c, createObject(), createObject('K', v)))</c>
/// can produce, without evaluating it.
/// </summary>
internal sealed class ArmExpression
{
    private ArmExpression(string text, string? function, IReadOnlyList<ArmExpression> arguments, string? literal)
    {
        Text = text;
        Function = function;
        Arguments = arguments;
        Literal = literal;
    }

    /// <summary>The source text of this expression (without brackets).</summary>
    public string Text { get; }

    /// <summary>The function called, e.g. "createObject"; null for a literal.</summary>
    public string? Function { get; }

    public IReadOnlyList<ArmExpression> Arguments { get; }

    /// <summary>The value of a string literal; null otherwise.</summary>
    public string? Literal { get; }

    /// <summary>As a template would write the value: a string literal as itself, anything else as "[expression]".</summary>
    public string AsTemplateValue => Literal ?? $"[{Text}]";

    /// <summary>Parses a template value: "[expr]" as an expression, anything else as a string literal.</summary>
    public static ArmExpression ParseValue(string value)
    {
        if (value.StartsWith('[') && value.EndsWith(']') && !value.StartsWith("[[", StringComparison.Ordinal))
        {
            return Parse(value[1..^1]);
        }

        return new ArmExpression($"'{value.Replace("'", "''", StringComparison.Ordinal)}'", null, [], value);
    }

    public static ArmExpression Parse(string text)
    {
        int position = 0;
        ArmExpression expression = ParseExpression(text, ref position);
        SkipSpace(text, ref position);
        if (position != text.Length)
        {
            throw new FormatException($"unexpected '{text[position..]}' after an expression in '{text}'");
        }

        return expression;
    }

    /// <summary>
    /// Every key the object expression may hold, with its value: <c>createObject</c> pairs, the branches of
    /// <c>if</c>, the arguments of <c>union</c> (later ones win). Any other object (a parameter, a variable)
    /// is reported to <paramref name="opaque"/>.
    /// </summary>
    public IReadOnlyDictionary<string, ArmExpression> ObjectKeys(Action<ArmExpression> opaque)
    {
        var keys = new Dictionary<string, ArmExpression>(StringComparer.Ordinal);
        Collect(this, keys, opaque);
        return keys;
    }

    private static void Collect(ArmExpression expression, Dictionary<string, ArmExpression> keys, Action<ArmExpression> opaque)
    {
        switch (expression.Function)
        {
            case "createObject":
                for (int i = 0; i + 1 < expression.Arguments.Count; i += 2)
                {
                    string key = expression.Arguments[i].Literal
                        ?? throw new FormatException($"createObject key is not a literal: {expression.Arguments[i].Text}");
                    keys[key] = expression.Arguments[i + 1];
                }

                break;
            case "union":
                foreach (ArmExpression argument in expression.Arguments)
                {
                    Collect(argument, keys, opaque);
                }

                break;
            case "if" when expression.Arguments.Count == 3:
                Collect(expression.Arguments[1], keys, opaque);
                Collect(expression.Arguments[2], keys, opaque);
                break;
            default:
                opaque(expression);
                break;
        }
    }

    private static ArmExpression ParseExpression(string text, ref int position)
    {
        SkipSpace(text, ref position);
        int start = position;
        ArmExpression primary;
        if (position < text.Length && text[position] == '\'')
        {
            var literal = new System.Text.StringBuilder();
            position++;
            while (true)
            {
                if (position >= text.Length)
                {
                    throw new FormatException($"unterminated string in '{text}'");
                }

                if (text[position] == '\'')
                {
                    if (position + 1 < text.Length && text[position + 1] == '\'')
                    {
                        literal.Append('\'');
                        position += 2;
                        continue;
                    }

                    position++;
                    break;
                }

                literal.Append(text[position++]);
            }

            primary = new ArmExpression(text[start..position], null, [], literal.ToString());
        }
        else
        {
            while (position < text.Length && (char.IsLetterOrDigit(text[position]) || text[position] is '_' or '-' or '$' or '#' or '.'))
            {
                position++;
            }

            string name = text[start..position];
            if (name.Length == 0)
            {
                throw new FormatException($"expected an expression at {position} in '{text}'");
            }

            SkipSpace(text, ref position);
            if (position < text.Length && text[position] == '(')
            {
                position++;
                var arguments = new List<ArmExpression>();
                SkipSpace(text, ref position);
                if (text[position] != ')')
                {
                    while (true)
                    {
                        arguments.Add(ParseExpression(text, ref position));
                        SkipSpace(text, ref position);
                        if (text[position] == ',')
                        {
                            position++;
                            continue;
                        }

                        break;
                    }
                }

                if (text[position] != ')')
                {
                    throw new FormatException($"expected ')' at {position} in '{text}'");
                }

                position++;
                primary = new ArmExpression(text[start..position], name, arguments, null);
            }
            else
            {
                primary = new ArmExpression(name, null, [], null); // a number or a bare word
            }
        }

        // Property accesses and indexers: .name, [expr]
        while (position < text.Length && (text[position] == '.' || text[position] == '['))
        {
            if (text[position] == '.')
            {
                position++;
                while (position < text.Length && (char.IsLetterOrDigit(text[position]) || text[position] is '_' or '$'))
                {
                    position++;
                }
            }
            else
            {
                position++;
                ParseExpression(text, ref position);
                SkipSpace(text, ref position);
                position++; // ]
            }

            primary = new ArmExpression(text[start..position], "(access)", [primary], null);
        }

        return primary;
    }

    private static void SkipSpace(string text, ref int position)
    {
        while (position < text.Length && char.IsWhiteSpace(text[position]))
        {
            position++;
        }
    }
}
