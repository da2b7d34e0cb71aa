using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Keybrake.Domain.Tests.Generated;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;
using Xunit.Abstractions;

namespace Keybrake.Tests.Caps;

/// <summary>
/// Caps are reservations: under any concurrency, across separate host processes sharing one storage
/// account, exact estimates never let spend pass a cap.
/// </summary>
public sealed class ConcurrentCapTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Calls = 200;
    private FakeVendors _vendors = null!;
    private HostProcess _first = null!;
    private HostProcess _second = null!;
    private readonly string _rootToken = "root-" + Guid.NewGuid().ToString("N");
    private readonly string _prefix = TestStorage.NewPrefix();

    public async Task InitializeAsync()
    {
        _vendors = await FakeVendors.StartAsync();
        var settings = new Dictionary<string, string?>(_vendors.ProxyConfiguration())
        {
            ["Tables:ConnectionString"] = TestStorage.ConnectionString,
            ["Tables:Prefix"] = _prefix,
            ["Secrets:keybrake-root-token"] = _rootToken,
        };
        Task<HostProcess> first = HostProcess.StartAsync(settings);
        Task<HostProcess> second = HostProcess.StartAsync(settings);
        (_first, _second) = (await first, await second);
    }

    public async Task DisposeAsync()
    {
        await _first.DisposeAsync();
        await _second.DisposeAsync();
        await _vendors.DisposeAsync();
    }

    [Fact]
    public async Task TwoHosts_200ConcurrentDollarCharges_OnAFiftyDollarKey_ExactlyFiftyReachStripe()
    {
        JsonElement key = await IssueKeyAsync("acme:billing-agent:checkout:race-1", 50m);

        HttpStatusCode[] statuses = await FireAsync(_ => key.Str("key"));

        Assert.True("200 x50, 429 x150" == Histogram(statuses), Histogram(statuses) + "\nStripe saw: " +
            string.Join(", ", _vendors.Stripe.Ledger.GroupBy(e => e.Status).Select(g => $"{g.Key} x{g.Count()}")) + "\n" +
            string.Join("\n", _first.Output.Concat(_second.Output).Where(l => l.Contains("Exception", StringComparison.Ordinal) || l.Contains("   at ", StringComparison.Ordinal)).Take(30)));
        Assert.Equal(50, _vendors.Stripe.Ledger.Count(e => e.Path == "/v1/payment_intents" && e.Status == 200));
        JsonElement after = await GetKeyAsync(key.Str("id"));
        Assert.Equal("50.000000", after.GetProperty("spent_today_usd").GetDecimal().ToString("0.000000", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0m, after.GetProperty("remaining_usd").GetDecimal());
        Assert.Equal(Calls, (await ProxyHost.AuditRowsAsync(_prefix)).Count);
    }

    [Fact]
    public async Task TwoHosts_ATenantBudgetOfThirtyDollars_SpreadOverThreeKeys_HoldsExactly()
    {
        using HttpClient root = Operator(_first);
        HttpResponseMessage budget = await root.PutAsJsonAsync("/v1/budgets/globex:", new { daily_usd = 30, alert_thresholds = new[] { 0.5, 1.0 } });
        Assert.Equal(HttpStatusCode.OK, budget.StatusCode);
        JsonElement[] keys =
        [
            await IssueKeyAsync("globex:billing-agent:checkout:race-a", 50m),
            await IssueKeyAsync("globex:billing-agent:renewals:race-b", 50m),
            await IssueKeyAsync("globex:onboarding-agent:trial:race-c", 50m),
        ];

        HttpStatusCode[] statuses = await FireAsync(i => keys[i % 3].Str("key"));

        Assert.Equal("200 x30, 429 x170", Histogram(statuses));
        Assert.Equal(30, _vendors.Stripe.Ledger.Count(e => e.Path == "/v1/payment_intents" && e.Status == 200));
        decimal spent = 0;
        foreach (JsonElement key in keys)
        {
            spent += (await GetKeyAsync(key.Str("id"))).GetProperty("spent_today_usd").GetDecimal();
        }

        Assert.Equal(30m, spent);
    }

    [Fact]
    public async Task TwoHosts_200ConcurrentGeneratedShapes_OnOneKey_NeverChargePastTheCap()
    {
        int seed = RequestShapes.Seed();
        var rng = new Random(seed);
        string[] paths = ["v1/payment_intents", "v1/charges", "v1/transfers", "v1/payouts"];
        RequestShape[] shapes = [.. Enumerable.Range(0, Calls).Select(_ => RequestShapes.StripeAmountCreate(rng, paths[rng.Next(paths.Length)], 800))];
        JsonElement key = await IssueKeyAsync("acme:billing-agent:checkout:race-shapes", 30m,
            ["POST /v1/payment_intents", "POST /v1/charges", "POST /v1/transfers", "POST /v1/payouts"]);

        using var gate = new SemaphoreSlim(0);
        using HttpClient first = new() { BaseAddress = _first.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        using HttpClient second = new() { BaseAddress = _second.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        Task<string?>[] calls = [.. shapes.Select(async (shape, i) =>
        {
            await gate.WaitAsync();
            using HttpRequestMessage request = GeneratedShapes.Request("stripe", shape, key.Str("key"));
            using HttpResponseMessage response = await (i % 2 == 0 ? first : second).SendAsync(request);
            string body = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode < 500, $"seed {seed}: {(int)response.StatusCode} {body}\n{shape.Description}");
            return GeneratedShapes.RefusalCode("stripe", body);
        })];
        gate.Release(Calls);
        string?[] refusals = await Task.WhenAll(calls);

        long charged = GeneratedShapes.StripeChargedMicros(_vendors.Stripe.Ledger);
        decimal spent = (await GetKeyAsync(key.Str("id"))).GetProperty("spent_today_usd").GetDecimal();
        string context = $"seed {seed} (KEYBRAKE_TEST_SEED={seed}): charged {charged}, counted {spent}, refusals: " +
            string.Join(", ", refusals.GroupBy(r => r ?? "(forwarded)").Select(g => $"{g.Key} x{g.Count()}"));
        Assert.True(charged <= 30_000_000, context);
        Assert.True(spent * 1_000_000m == charged, context);
        Assert.True(_vendors.Stripe.Ledger.Count == refusals.Count(r => r is null), "the vendor saw refused calls: " + context);
        Assert.True(refusals.Count(r => r is null) > 3 && refusals.Count(r => r == "keybrake_cap_exceeded") > 3, "the race hardly raced: " + context);
        Assert.DoesNotContain(await ProxyHost.AuditRowsAsync(_prefix), r => r.GetInt64("OvershootMicros") is > 0);
        output.WriteLine($"{Calls} concurrent calls over two hosts, " + context);
    }

    /// <summary>Sends the calls all at once, alternating between the two hosts; each is a distinct $1.00 order.</summary>
    private async Task<HttpStatusCode[]> FireAsync(Func<int, string> keyFor)
    {
        using var gate = new SemaphoreSlim(0);
        using HttpClient first = new() { BaseAddress = _first.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        using HttpClient second = new() { BaseAddress = _second.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        Task<HttpStatusCode>[] calls = Enumerable.Range(0, Calls).Select(async i =>
        {
            await gate.WaitAsync();
            using var request = new HttpRequestMessage(HttpMethod.Post, "/proxy/stripe/v1/payment_intents")
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string>
                {
                    ["amount"] = "100", ["currency"] = "usd", ["confirm"] = "true", ["payment_method"] = "pm_card_visa", ["metadata[order]"] = $"order-{i}",
                }),
            };
            request.Headers.Authorization = new("Bearer", keyFor(i));
            using HttpResponseMessage response = await (i % 2 == 0 ? first : second).SendAsync(request);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                JsonElement error = (await Json.ReadAsync(response)).GetProperty("error");
                Assert.Equal("keybrake_cap_exceeded", error.Str("code"));
            }

            return response.StatusCode;
        }).ToArray();
        gate.Release(Calls);
        return await Task.WhenAll(calls);
    }

    private static string Histogram(HttpStatusCode[] statuses) =>
        string.Join(", ", statuses.GroupBy(s => (int)s).OrderBy(g => g.Key).Select(g => $"{g.Key} x{g.Count()}"));

    private HttpClient Operator(HostProcess host)
    {
        var client = new HttpClient { BaseAddress = host.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new("Bearer", _rootToken);
        return client;
    }

    private async Task<JsonElement> IssueKeyAsync(string label, decimal cap, string[]? endpoints = null)
    {
        using HttpClient root = Operator(_first);
        HttpResponseMessage response = await root.PostAsJsonAsync("/v1/keys", new
        {
            label, vendor = "stripe", daily_usd_cap = cap, allowed_endpoints = endpoints ?? ["POST /v1/payment_intents"], expires_in = "1h",
        });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await Json.ReadAsync(response);
    }

    private async Task<JsonElement> GetKeyAsync(string id)
    {
        using HttpClient root = Operator(_second);
        return await Json.ReadAsync(await root.GetAsync($"/v1/keys/{id}"));
    }
}
