using System.Globalization;
using Keybrake.Domain.Vendors;
using Xunit.Abstractions;

namespace Keybrake.Domain.Tests.Vendors;

/// <summary>
/// The Domain's segment counter, which prices every SMS reservation. Expected counts come from Twilio's
/// rules (docs/vendors.md, and Twilio's published segment calculator): GSM-7 holds 160 septets alone and 153 per
/// part once split; the extension table (<c>^ { } \ [ ~ ] | €</c> and form feed) takes two septets; any
/// other character makes the whole message UCS-2, 70 code units alone and 67 per part; a character is
/// never split across two parts.
/// </summary>
public sealed class SmsSegmentsTests(ITestOutputHelper output)
{
    private static string Repeat(string unit, int times) => string.Concat(Enumerable.Repeat(unit, times));

    [Theory]
    [InlineData(1, 1)]
    [InlineData(160, 1)]
    [InlineData(161, 2)]
    [InlineData(306, 2)]
    [InlineData(307, 3)]
    [InlineData(459, 3)]
    [InlineData(460, 4)]
    [InlineData(1600, 11)]
    public void Gsm7_Holds160Alone_Then153PerPart(int length, int segments) =>
        Assert.Equal(segments, SmsSegments.Count(new string('a', length)));

    [Theory]
    [InlineData(1, 1)]
    [InlineData(70, 1)]
    [InlineData(71, 2)]
    [InlineData(134, 2)]
    [InlineData(135, 3)]
    [InlineData(201, 3)]
    [InlineData(202, 4)]
    public void Ucs2_Holds70Alone_Then67PerPart(int length, int segments) =>
        Assert.Equal(segments, SmsSegments.Count(new string('\u0436', length)));

    [Fact]
    public void EveryCharacterOfTheDefaultAlphabet_StaysGsm7()
    {
        // 160 of one character fit one GSM-7 segment; were it counted as UCS-2 they would take 3.
        foreach (char c in SmsRules.Gsm7Basic)
        {
            Assert.True(SmsSegments.Count(new string(c, 160)) == 1, $"U+{(int)c:X4} is in the GSM-7 default alphabet");
        }
    }

    [Fact]
    public void EveryExtensionCharacter_TakesTwoSeptets()
    {
        foreach (char c in SmsRules.Gsm7Extension)
        {
            // 158 + 2 = 160 septets: one segment; 159 + 2 = 161: two. Counted as 1 septet, both would be one;
            // counted as UCS-2, both would be three.
            Assert.True(SmsSegments.Count(new string('a', 158) + c) == 1, $"U+{(int)c:X4} with 158 letters is 160 septets");
            Assert.True(SmsSegments.Count(new string('a', 159) + c) == 2, $"U+{(int)c:X4} with 159 letters is 161 septets");
            Assert.True(SmsSegments.Count(new string(c, 80)) == 1, $"80 × U+{(int)c:X4} is 160 septets");
            Assert.True(SmsSegments.Count(new string(c, 81)) == 2, $"81 × U+{(int)c:X4} is 162 septets");
        }
    }

    [Theory]
    [InlineData('`')] // a backtick is in neither GSM-7 table
    [InlineData('\u2019')] // a typographic apostrophe, what phones type for '
    [InlineData('\u00E1')] // á (à is GSM-7, á is not)
    [InlineData('\u00EA')] // ê
    [InlineData('\u0436')] // Cyrillic
    [InlineData('\t')] // a tab is not in the default alphabet
    public void OneCharacterOutsideGsm7_MakesTheWholeMessageUcs2(char other)
    {
        // 69 letters + 1 other = 70 UCS-2 units, one segment; 70 + 1 = 71 units, two; 159 + 1 would be one GSM-7 segment, but is three UCS-2 parts.
        Assert.Equal(1, SmsSegments.Count(new string('a', 69) + other));
        Assert.Equal(2, SmsSegments.Count(new string('a', 70) + other));
        Assert.Equal(3, SmsSegments.Count(new string('a', 159) + other));
    }

    [Theory]
    [InlineData(35, 1)] // 70 code units
    [InlineData(36, 2)] // 72 code units
    [InlineData(66, 2)] // 132 code units: 33 pairs per part of 67
    [InlineData(67, 3)] // 134 code units, yet a part holds only 33 whole pairs
    public void CharactersOutsideTheBmp_CountTwoCodeUnits(int emojis, int segments) =>
        Assert.Equal(segments, SmsSegments.Count(Repeat("\U0001F600", emojis)));

    [Fact]
    public void AnExtensionCharacter_IsNeverSplitAcrossParts()
    {
        // 152 letters leave one septet in the first part: the euro (two septets) opens the second, which
        // then holds it and 151 letters; the last letter needs a third. 306 septets, yet three parts.
        Assert.Equal(3, SmsSegments.Count(new string('a', 152) + "\u20AC" + new string('a', 152)));

        // The same septets without a straddling pair fit in two.
        Assert.Equal(2, SmsSegments.Count(new string('a', 151) + "\u20AC" + new string('a', 153)));
    }

    [Fact]
    public void ASurrogatePair_IsNeverSplitAcrossParts()
    {
        // 66 units leave one in the first part: the emoji (two units) opens the second; 134 units, three parts.
        Assert.Equal(3, SmsSegments.Count(new string('\u0436', 66) + "\U0001F600" + new string('\u0436', 66)));
        Assert.Equal(2, SmsSegments.Count(new string('\u0436', 65) + "\U0001F600" + new string('\u0436', 67)));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void AnEmptyBody_IsBoundedByOneSegment_NeverFree(string? body) =>
        Assert.Equal(1, SmsSegments.Count(body));

    /// <summary>
    /// Generated bodies from a mix of all the alphabets: the count equals an independent packer of the documented
    /// rules (characters placed whole, part after part), and never drops from a prefix to a longer one. Set KEYBRAKE_TEST_SEED to replay a printed seed.
    /// </summary>
    [Fact]
    public void GeneratedBodies_MatchTheRules_AndGrowMonotonically()
    {
        int seed = Generated.RequestShapes.Seed();
        output.WriteLine($"seed {seed} (KEYBRAKE_TEST_SEED={seed} replays it)");
        var rng = new Random(seed);
        string[][] alphabets = [.. new[] { SmsRules.Gsm7Basic, SmsRules.Gsm7Basic + SmsRules.Gsm7Extension, "a\u20AC", "\u0436\u00E1a", "\U0001F600a\u0436" }.Select(Characters)];
        for (int i = 0; i < 1_000; i++)
        {
            string[] alphabet = alphabets[rng.Next(alphabets.Length)];
            var text = new System.Text.StringBuilder();
            var cuts = new List<int>();
            int length = rng.Next(0, 420);
            while (text.Length < length)
            {
                text.Append(alphabet[rng.Next(alphabet.Length)]);
                if (rng.Next(16) == 0)
                {
                    cuts.Add(text.Length); // a prefix that ends between whole characters
                }
            }

            string body = text.ToString();
            int count = SmsSegments.Count(body);
            int expected = SmsRules.Segments(body);
            if (count != expected)
            {
                Assert.Fail($"case {i} of seed {seed}: {count} segments for '{body}', the rules give {expected}");
            }

            int previous = 1;
            foreach (int cut in cuts.Append(body.Length))
            {
                int prefix = SmsSegments.Count(body[..cut]);
                if (prefix < previous)
                {
                    Assert.Fail($"case {i} of seed {seed}: {cut} characters of '{body}' count {prefix}, fewer than a shorter prefix's {previous}");
                }
                previous = prefix;
            }
        }
    }

    /// <summary>Whole characters: a surrogate pair is one.</summary>
    private static string[] Characters(string alphabet)
    {
        var characters = new List<string>();
        TextElementEnumerator e = StringInfo.GetTextElementEnumerator(alphabet);
        while (e.MoveNext())
        {
            characters.Add(e.GetTextElement());
        }

        return [.. characters];
    }
}
