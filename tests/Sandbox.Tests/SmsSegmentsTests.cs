namespace Keybrake.Sandbox.Tests;

public sealed class SmsSegmentsTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(160, 1)]
    [InlineData(161, 2)]
    [InlineData(306, 2)]
    [InlineData(307, 3)]
    public void Gsm7_plain_text(int length, int segments)
    {
        var count = SmsSegments.Count(new string('a', length));
        Assert.Equal(SmsEncoding.Gsm7, count.Encoding);
        Assert.Equal(length, count.Units);
        Assert.Equal(segments, count.Segments);
    }

    [Theory]
    [InlineData(70, 1)]
    [InlineData(71, 2)]
    [InlineData(134, 2)]
    [InlineData(135, 3)]
    public void One_non_gsm_character_switches_to_ucs2(int length, int segments)
    {
        var body = "é€ж" + new string('a', length - 3); // ж is outside GSM-7
        var count = SmsSegments.Count(body);
        Assert.Equal(SmsEncoding.Ucs2, count.Encoding);
        Assert.Equal(length, count.Units);
        Assert.Equal(segments, count.Segments);
    }

    [Fact]
    public void Emoji_counts_two_utf16_units()
    {
        var count = SmsSegments.Count("😀" + new string('a', 68)); // 70 units
        Assert.Equal(new SmsSegmentCount(SmsEncoding.Ucs2, 70, 1), count);
        Assert.Equal(2, SmsSegments.Count("😀" + new string('a', 69)).Segments); // 71 units
    }

    [Fact]
    public void Extension_characters_take_two_septets()
    {
        Assert.Equal(new SmsSegmentCount(SmsEncoding.Gsm7, 20, 1), SmsSegments.Count("^{}\\[~]|€\f"));
        Assert.Equal(1, SmsSegments.Count(new string('a', 158) + "€").Segments); // 160 septets
        Assert.Equal(2, SmsSegments.Count(new string('a', 159) + "€").Segments); // 161 septets
        Assert.Equal(SmsEncoding.Ucs2, SmsSegments.Count("Ça coûte").Encoding); // û is not GSM-7
        Assert.Equal(SmsEncoding.Gsm7, SmsSegments.Count("Ça £5 @ Ñandù? ¡Sì! äöü ß ΔΣ èéùìò").Encoding);
        Assert.Equal(1, SmsSegments.Count(string.Empty).Segments);
    }

    [Fact]
    public void A_part_never_splits_a_character()
    {
        // 152 septets + an extension character (2) would put its escape in part one and its septet in part two:
        // it moves whole to part two, so 152 + 2 + 152 septets are three parts, not two.
        Assert.Equal(3, SmsSegments.Count(new string('a', 152) + "€" + new string('a', 152)).Segments);
        Assert.Equal(2, SmsSegments.Count(new string('a', 151) + "€" + new string('a', 152)).Segments);

        // Surrogate pairs likewise in UCS-2: 400 emoji are 800 units, 33 to a 67-unit part (66 used), so 13 parts, not 12.
        Assert.Equal(13, SmsSegments.Count(string.Concat(Enumerable.Repeat("😀", 400))).Segments);
    }
}
