using System.Net;
using System.Text.Json;
using Keybrake.DevHost;
using Keybrake.Functions.Timers;
using Keybrake.Tests.Support;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;

namespace Keybrake.Tests.Reports;

/// <summary>
/// The four questions the product exists to answer, each asked of <c>GET /v1/spend</c> the way an operator would,
/// over the synthetic week after the daily rollup timer has caught up, with the answer recomputed from the fake
/// vendors' ledgers.
/// </summary>
public sealed class SeedQuestionsTests(SyntheticWeek week) : IClassFixture<SyntheticWeek>, IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        if (!week.Closed)
        {
            // Monday night: Sunday's messages settle, and the rollup timer's one run catches up on the whole week.
            await week.SettleLateAsync();
            // The timer only enqueues; the queue function (the development host's poller here) rolls each batch.
            await ActivatorUtilities.CreateInstance<RollupFunction>(week.Proxy.Host.Services).RunAsync(new TimerInfo(), CancellationToken.None);
            Assert.True(await week.Proxy.Host.Services.GetRequiredService<QueuePoller>().DrainAsync(CancellationToken.None) > 0, "the nightly work items ran");
            week.Closed = true;
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task HowMuchDidTenantAcmeSpendOnStripeThisWeek()
    {
        JsonElement answer = await AskAsync($"/v1/spend?{SyntheticWeek.WeekWindow}&label_prefix=acme:&vendor=stripe&group_by=tenant");

        JsonElement acme = Assert.Single(answer.GetProperty("groups").EnumerateArray());
        IEnumerable<LedgerCall> stripe = week.Ledger().Where(c => c.Label.StartsWith("acme:", StringComparison.Ordinal) && c.Vendor == "stripe");
        Assert.Equal(Usd(stripe.Sum(c => c.Gross - c.Refunds)), acme.GetProperty("cost_usd").GetDecimal());
        Assert.Equal(Usd(stripe.Sum(c => c.Refunds)), acme.GetProperty("refunds_usd").GetDecimal());
        // The week's seven days are in acme's November rollup partition: one read.
        Assert.Equal(1, answer.GetProperty("read").GetProperty("rollup_partitions").GetInt32());
        Assert.Equal(7, answer.GetProperty("read").GetProperty("rolled_days").GetInt32());
        Assert.Equal(0, answer.GetProperty("read").GetProperty("audit_partitions").GetInt32());
    }

    [Fact]
    public async Task WhichAgentTypeCausedTuesdaysSpike()
    {
        Dictionary<string, decimal> monday = Costs(await AskAsync("/v1/spend?since=2026-11-02T00:00:00Z&until=2026-11-02T23:59:59.9999999Z&group_by=agent_type"));
        Dictionary<string, decimal> tuesday = Costs(await AskAsync("/v1/spend?since=2026-11-03T00:00:00Z&until=2026-11-03T23:59:59.9999999Z&group_by=agent_type"));

        string culprit = tuesday.MaxBy(t => t.Value - monday.GetValueOrDefault(t.Key)).Key;
        Assert.Equal("collections-agent", culprit);
        Assert.True(tuesday.Values.Sum() > monday.Values.Sum() * 1.5m, "Tuesday should be a spike");
        Assert.Equal(
            Usd(week.Ledger().Where(c => c.Day == SyntheticWeek.Monday.AddDays(1) && c.Dimension("agent_type") == culprit).Sum(c => c.Gross - c.Refunds)),
            tuesday[culprit]);
    }

    [Fact]
    public async Task WhatDidTheNotificationAgentCostVersusTheOnboardingAgentOnTwilio()
    {
        Dictionary<string, decimal> byAgent = Costs(await AskAsync($"/v1/spend?{SyntheticWeek.WeekWindow}&vendor=twilio&group_by=agent_type"));

        foreach (string agent in new[] { "notify-agent", "onboarding-agent" })
        {
            Assert.Equal(Usd(week.Ledger().Where(c => c.Vendor == "twilio" && c.Dimension("agent_type") == agent).Sum(c => c.Gross)), byAgent[agent]);
        }

        Assert.Equal(["notify-agent", "onboarding-agent"], byAgent.Keys.Order());
    }

    [Fact]
    public async Task DidAnyRunCostMoreThanFiftyDollars()
    {
        JsonElement answer = await AskAsync($"/v1/spend?{SyntheticWeek.WeekWindow}&group_by=label,vendor");

        string[] over = [.. answer.GetProperty("groups").EnumerateArray().Where(g => g.GetProperty("cost_usd").GetDecimal() > 50m).Select(g => g.Str("key"))];
        string[] expected = [.. week.Ledger().GroupBy(c => c.Label + "|" + c.Vendor).Where(g => g.Sum(c => c.Gross - c.Refunds) > 50_000_000).Select(g => g.Key)];
        Assert.Equal(expected.Order(), over.Order());
        Assert.Equal(["globex:collections-agent:dunning:run-1103|stripe", "initech:billing-agent:checkout:run-1105|stripe"], over.Order());
    }

    private async Task<JsonElement> AskAsync(string query)
    {
        using HttpClient root = week.Proxy.Host.Client();
        HttpResponseMessage response = await root.GetAsync(query);
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
        return body;
    }

    private static Dictionary<string, decimal> Costs(JsonElement answer) =>
        answer.GetProperty("groups").EnumerateArray().ToDictionary(g => g.Str("key"), g => g.GetProperty("cost_usd").GetDecimal());

    private static decimal Usd(long micros) => micros / 1_000_000m;
}
