using System.Net;
using System.Text.Json;
using Keybrake.Domain.Activity;
using Keybrake.Domain.Audit;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Keybrake.Tests.Reports;

/// <summary>
/// Every group_by of <c>GET /v1/spend</c> over the synthetic week, against sums recomputed from the fake vendors'
/// ledgers, to the micro-dollar: from audit rows, then from rollups, after re-running them, and after a late settlement.
/// </summary>
public sealed class SyntheticWeekTests(SyntheticWeek week) : IClassFixture<SyntheticWeek>
{
    private const string Window = SyntheticWeek.WeekWindow;

    public static IEnumerable<string> GroupBys()
    {
        foreach (string first in SpendQueryService.Dimensions)
        {
            yield return first;
            foreach (string second in SpendQueryService.Dimensions.Where(d => d != first))
            {
                yield return first + "," + second;
            }
        }
    }

    [Fact]
    public async Task EveryGroupBy_MatchesTheLedgers_FromAuditRows_FromRollups_AfterReRun_AndAfterLateSettlement()
    {
        using HttpClient root = week.Proxy.Host.Client();
        Assert.Contains(week.Ledger(), c => c.Refunds > 0 && c.Day == SyntheticWeek.Monday.AddDays(2));
        Assert.Contains(week.Denied, d => d.Label.StartsWith("globex:collections-agent", StringComparison.Ordinal));

        await AssertEveryGroupByAsync(root, expectRollups: false);

        for (int d = 0; d < 7; d++)
        {
            Assert.Equal(HttpStatusCode.OK, (await root.PostAsync($"/v1/rollups/{SyntheticWeek.Monday.AddDays(d):yyyy-MM-dd}", null)).StatusCode);
        }

        await AssertEveryGroupByAsync(root, expectRollups: true);
        string sunday = await (await root.GetAsync("/v1/rollups?date=2026-11-08")).Content.ReadAsStringAsync();
        await root.PostAsync("/v1/rollups/2026-11-08", null);
        Assert.Equal(sunday, await (await root.GetAsync("/v1/rollups?date=2026-11-08")).Content.ReadAsStringAsync());
        await AssertEveryGroupByAsync(root, expectRollups: true);

        // Sunday's messages settle on Monday below the estimate; the reconciler re-rolls Sunday.
        long before = Sum(await SpendAsync(root, "vendor", "&vendor=twilio"));
        await week.SettleLateAsync();
        IReadOnlyList<DirtyMark> dirty = await week.Proxy.Host.Services.GetRequiredService<IActivityIndex>().DirtyAsync(CancellationToken.None);
        Assert.NotEmpty(dirty);
        Assert.All(dirty, m => Assert.Equal(new DateOnly(2026, 11, 8), m.TenantDay.Day));
        long after = Sum(await SpendAsync(root, "vendor", "&vendor=twilio"));
        Assert.True(after < before, $"late settlement should lower Twilio spend: {before} -> {after}");
        await AssertEveryGroupByAsync(root, expectRollups: true);

        // Tuesday noon to Thursday noon: Tuesday and Thursday are partial (audit rows), only Wednesday is whole (rollups).
        JsonElement partial = await SpendAsync(root, "tenant", string.Empty, "since=2026-11-03T12:00:00Z&until=2026-11-05T12:00:00Z");
        Assert.Equal((3, 3, 6), Read(partial));
        var noonTuesday = new DateTimeOffset(2026, 11, 3, 12, 0, 0, TimeSpan.Zero);
        AssertGroups(Expected("tenant", c => c.At >= noonTuesday && c.At <= noonTuesday.AddDays(2)), partial);

        // No until: the window ends now, and today (Monday the 9th) is read from its audit partitions.
        JsonElement sinceMonday = await SpendAsync(root, "tenant", string.Empty, "since=2026-11-02T00:00:00Z");
        // Nobody called today: the activity index leaves today's empty audit partitions unread.
        Assert.Equal((3, 21, 0), Read(sinceMonday));
        AssertGroups(Expected("tenant", _ => true), sinceMonday);
    }

    private async Task AssertEveryGroupByAsync(HttpClient root, bool expectRollups)
    {
        foreach (string groupBy in GroupBys())
        {
            JsonElement body = await SpendAsync(root, groupBy, string.Empty);
            AssertGroups(Expected(groupBy, _ => true), body, groupBy);
            // 3 tenants × 7 days: by agent type, feature or vendor one month partition per tenant; by run or label each day's.
            // Before the days are rolled up those partitions are read too, and found without a complete day.
            int partitions = groupBy.Split(',').Any(d => d is "run" or "label") ? 21 : 3;
            Assert.Equal(expectRollups ? (partitions, 21, 0) : (partitions, 0, 21), Read(body));
        }

        foreach ((string prefix, string? vendor) in new[] { ("acme:", "stripe"), ("globex:onboarding-agent:", null), ("initech:billing-agent:checkout:", "stripe"), ("acme:notify-agent:", "twilio") })
        {
            string filter = $"&label_prefix={Uri.EscapeDataString(prefix)}" + (vendor is null ? string.Empty : "&vendor=" + vendor);
            AssertGroups(
                Expected("label,vendor", c => c.Label.StartsWith(prefix, StringComparison.Ordinal) && (vendor is null || c.Vendor == vendor)),
                await SpendAsync(root, "label,vendor", filter), prefix);
        }
    }

    /// <summary>Rollup partitions read, closed tenant-days they answered, tenant-days read from audit rows.</summary>
    private static (int RollupPartitions, int RolledDays, int Audit) Read(JsonElement body) =>
        (body.GetProperty("read").GetProperty("rollup_partitions").GetInt32(), body.GetProperty("read").GetProperty("rolled_days").GetInt32(),
            body.GetProperty("read").GetProperty("audit_partitions").GetInt32());

    private Dictionary<string, (long Gross, long Refunds, long Fee, int Calls, int Denied)> Expected(string groupBy, Func<LedgerCall, bool> where) =>
        week.Ledger().Where(where)
            .GroupBy(c => string.Join('|', groupBy.Split(',').Select(c.Dimension)))
            .ToDictionary(g => g.Key, g => (g.Sum(c => c.Gross), g.Sum(c => c.Refunds), g.Sum(c => c.Fee), g.Count(c => !c.Denied), g.Count(c => c.Denied)));

    private static void AssertGroups(Dictionary<string, (long Gross, long Refunds, long Fee, int Calls, int Denied)> expected, JsonElement body, string because = "")
    {
        Dictionary<string, JsonElement> actual = body.GetProperty("groups").EnumerateArray().ToDictionary(g => g.Str("key"));
        Assert.True(expected.Keys.Order().SequenceEqual(actual.Keys.Order()), $"{because}: groups differ: expected [{string.Join(", ", expected.Keys.Order())}], got [{string.Join(", ", actual.Keys.Order())}]");
        foreach ((string key, (long gross, long refunds, long fee, int calls, int denied)) in expected)
        {
            JsonElement g = actual[key];
            Assert.True(
                (Micros(g, "gross_usd"), Micros(g, "refunds_usd"), Micros(g, "cost_usd"), Micros(g, "fee_usd"), g.GetProperty("calls").GetInt32(), g.GetProperty("denied").GetInt32())
                == (gross, refunds, gross - refunds, fee, calls, denied),
                $"{because} [{key}]: expected gross {gross} refunds {refunds} fee {fee} calls {calls} denied {denied}, got {g}");
        }

        List<long> costs = [.. body.GetProperty("groups").EnumerateArray().Select(g => Micros(g, "cost_usd"))];
        Assert.Equal(costs.OrderDescending(), costs);
    }

    private static long Micros(JsonElement group, string field) => (long)(group.GetProperty(field).GetDecimal() * 1_000_000m);

    private static long Sum(JsonElement body) => body.GetProperty("groups").EnumerateArray().Sum(g => Micros(g, "cost_usd"));

    private static async Task<JsonElement> SpendAsync(HttpClient root, string groupBy, string filter, string window = Window)
    {
        HttpResponseMessage response = await root.GetAsync($"/v1/spend?{window}&group_by={groupBy}{filter}");
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
        return body;
    }
}
