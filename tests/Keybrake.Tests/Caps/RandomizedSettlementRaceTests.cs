using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Keybrake.Domain.Activity;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Reconciliation;
using Keybrake.Infrastructure.Storage;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace Keybrake.Tests.Caps;

/// <summary>
/// Issue #18's randomized race (seeded: <c>KEYBRAKE_TEST_SEED</c>, or a random seed printed in every failure). Many
/// Stripe charges left in doubt across three tenants (key caps, daily and monthly budgets), some declined at Stripe,
/// some idempotent replays, some held before the proxy records its (late) outcome; then, all at once: operators
/// resolving them truthfully (some double-clicked), the reconciler on two hosts over the same tables, the late proxy
/// outcomes, rollup runs of the day on both hosts, and the shared clock crossing UTC midnight. Afterwards every row was
/// resolved exactly once and as Stripe really acted, the consistency check finds no drift on either day, and Stripe's
/// succeeded charges equal the audit rows' costs to the micro-dollar.
/// </summary>
public sealed class RandomizedSettlementRaceTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string[] Tenants = ["acme", "globex", "initech"];
    private static readonly DateOnly Day = new(2026, 11, 2);
    private static readonly DateOnly NextDay = new(2026, 11, 3);

    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Vendors:stripe:TimeoutSeconds"] = "1",
        ["Proxy:BudgetCacheMilliseconds"] = "0",
    };

    private ProxyHost _proxy = null!;
    private KeybrakeHost _second = null!;

    public async Task InitializeAsync()
    {
        _proxy = await ProxyHost.StartAsync(Settings, ownVendorAccounts: Tenants, configureServices: services =>
        {
            // Around the log the app composes (activity index included), so rollups find the tenant-days it wrote.
            services.AddSingleton(sp => new GatedAuditLog(new ActivityRecordingAuditLog(sp.GetRequiredService<TableReservationLedger>(), sp.GetRequiredService<IActivityIndex>())));
            services.AddSingleton<IReservationLedger>(sp => sp.GetRequiredService<GatedAuditLog>());
        });

        // A second instance on the same tables and the same clock (instances share UTC; their skew is not what this tests).
        var values = new Dictionary<string, string?>(_proxy.Vendors.ProxyConfiguration());
        foreach ((string name, string? secret) in _proxy.Vendors.ProxyConfiguration().Where(s => s.Key.StartsWith("Secrets:", StringComparison.Ordinal)))
        {
            foreach (string tenant in Tenants)
            {
                values[name + "--" + tenant] = secret;
                values[name] = null;
            }
        }

        foreach ((string key, string? value) in Settings)
        {
            values[key] = value;
        }

        FakeTimeProvider clock = _proxy.Host.Time;
        _second = await KeybrakeHost.StartAsync(values, _proxy.Host.TablePrefix, services => services.AddSingleton<TimeProvider>(clock));
    }

    public async Task DisposeAsync()
    {
        await _second.DisposeAsync();
        await _proxy.DisposeAsync();
    }

    private GatedAuditLog Ledger => _proxy.Host.Services.GetRequiredService<GatedAuditLog>();

    /// <summary>What Stripe really did for one call, and so what a truthful operator says.</summary>
    private sealed record Call(string Tenant, string Key, long AmountMinor, bool Charged, bool Replay, bool Late)
    {
        public string AuditId { get; set; } = string.Empty;
    }

    /// <summary>One row's plan for the race: whether an operator resolves it, double-clicks, names the cost, and when.</summary>
    private sealed record OperatorPlan(Call Call, bool Resolve, bool DoubleClick, bool NameCost, int DelayMs);

    [Fact]
    public async Task InDoubtChargesRacedByOperatorsTwoReconcilersLateOutcomesRollupsAndMidnight_SettleOnce_WithoutDrift()
    {
        int seed = Environment.GetEnvironmentVariable("KEYBRAKE_TEST_SEED") is { Length: > 0 } given
            ? int.Parse(given, CultureInfo.InvariantCulture)
            : Random.Shared.Next();
        var random = new Random(seed);
        string Because(string what) => $"[seed {seed}; rerun with KEYBRAKE_TEST_SEED={seed}] {what}";

        FakeTimeProvider clock = _proxy.Host.Time;
        clock.Advance(new DateTimeOffset(2026, 11, 2, 23, 50, 0, TimeSpan.Zero) - clock.GetUtcNow());
        using HttpClient root = _proxy.Host.Client();
        using HttpClient secondRoot = _second.Client();

        var keys = new List<(string Tenant, JsonElement Key)>();
        foreach (string tenant in Tenants)
        {
            HttpResponseMessage budget = await root.PutAsJsonAsync($"/v1/budgets/{tenant}:billing-agent", new { daily_usd = 2000, monthly_usd = 5000 });
            Assert.True(budget.StatusCode == HttpStatusCode.OK, Because($"budget of {tenant}: {(int)budget.StatusCode}"));
            for (int k = 0; k < 2; k++)
            {
                keys.Add((tenant, await _proxy.Host.IssueKeyAsync(
                    $"{tenant}:billing-agent:checkout:race-{k}", "stripe", cap: 400m, endpoints: ["POST /v1/payment_intents"], ttl: "3d")));
            }
        }

        JsonElement KeyOf(Call call) => keys.First(k => k.Key.Str("id") == call.Key).Key;
        (string Tenant, JsonElement Key) AnyKey() => keys[random.Next(keys.Count)];
        long Amount() => random.Next(50, 4000);

        // Charges Stripe makes (or declines) but answers after the proxy's timeout: in doubt.
        var calls = new List<Call>();
        for (int i = 0; i < 18; i++)
        {
            (string tenant, JsonElement key) = AnyKey();
            calls.Add(new Call(tenant, key.Str("id"), Amount(), Charged: random.NextDouble() >= 0.3, Replay: false, Late: false));
        }

        // Replays: a charge answered in time, then its retry with the same Idempotency-Key answered too late.
        var replays = new List<Call>();
        var firsts = new List<(string Tenant, JsonElement Key, long Amount, string IdempotencyKey)>();
        for (int i = 0; i < 3; i++)
        {
            (string tenant, JsonElement key) = AnyKey();
            long amount = Amount();
            firsts.Add((tenant, key, amount, $"race-order-{seed}-{i}"));
            replays.Add(new Call(tenant, key.Str("id"), amount, Charged: false, Replay: true, Late: false));
        }

        foreach ((string _, JsonElement key, long amount, string idempotencyKey) in firsts)
        {
            HttpResponseMessage first = await ChargeAsync(key, amount, declined: false, idempotencyKey);
            Assert.True(first.StatusCode == HttpStatusCode.OK, Because($"first charge of a replay: {(int)first.StatusCode}"));
        }

        _proxy.Vendors.Stripe.Options.ResponseDelay = TimeSpan.FromSeconds(5);
        HttpResponseMessage[] timedOut;
        try
        {
            timedOut = await Task.WhenAll(
                calls.Select(c => ChargeAsync(KeyOf(c), c.AmountMinor, declined: !c.Charged, null))
                    .Concat(replays.Select((c, i) => ChargeAsync(KeyOf(c), c.AmountMinor, declined: false, firsts[i].IdempotencyKey))));
        }
        finally
        {
            _proxy.Vendors.Stripe.Options.ResponseDelay = TimeSpan.Zero;
        }

        List<Call> inDoubt = [.. calls, .. replays];
        for (int i = 0; i < inDoubt.Count; i++)
        {
            Assert.True(timedOut[i].StatusCode == HttpStatusCode.GatewayTimeout, Because($"call {i} answered {(int)timedOut[i].StatusCode}, not 504"));
            inDoubt[i].AuditId = timedOut[i].Headers.GetValues("X-Keybrake-Audit-Id").Single();
        }

        // Charges Stripe answers in time whose outcome the proxy has not recorded yet (held before it writes): late outcomes.
        var late = new List<Call>();
        for (int i = 0; i < 3; i++)
        {
            (string tenant, JsonElement key) = AnyKey();
            late.Add(new Call(tenant, key.Str("id"), Amount(), Charged: true, Replay: false, Late: true));
        }

        var known = inDoubt.Select(c => c.AuditId).ToHashSet();
        var heldIds = new List<string>();
        Ledger.BeforeComplete.Arm(late.Count);
        Task<HttpResponseMessage>[] lateAnswers = [.. late.Select(c => ChargeAsync(KeyOf(c), c.AmountMinor, declined: false, null))];
        await Ledger.BeforeComplete.ArrivedAsync();
        List<TableEntity> held = [.. (await _proxy.AuditRowsAsync()).Where(r => r.GetString("Outcome") == AuditOutcome.InDoubt && !known.Contains(r.RowKey))];
        Assert.True(held.Count == late.Count, Because($"{held.Count} held rows for {late.Count} late calls"));
        foreach (Call call in late)
        {
            // The held rows are told apart by key and reservation (the amount); equal pairs are interchangeable.
            TableEntity row = held.First(r => r.GetInt64("CostMicros") == call.AmountMinor * 10_000 && !heldIds.Contains(r.RowKey) && RowKeyId(r) == call.Key);
            call.AuditId = row.RowKey;
            heldIds.Add(row.RowKey);
        }

        inDoubt.AddRange(late);

        // Past the in-doubt grace: the reconciler may take any of them from now on.
        clock.Advance(TimeSpan.FromMinutes(6));

        // The plan, drawn up front so the race itself uses no shared random state.
        List<OperatorPlan> plans = [.. inDoubt.OrderBy(_ => random.Next()).Select(c => new OperatorPlan(
            c, Resolve: random.NextDouble() < 0.8, DoubleClick: random.NextDouble() < 0.35, NameCost: random.NextDouble() < 0.5, DelayMs: random.Next(0, 900)))];
        int[] reconcilerDelays = [.. Enumerable.Range(0, 6).Select(_ => random.Next(0, 900))];
        int lateDelay = random.Next(0, 900);
        int[] clockSteps = [.. Enumerable.Range(0, 16).Select(_ => random.Next(10, 60))];
        int[] rollupDelays = [.. Enumerable.Range(0, 6).Select(_ => random.Next(0, 150))];

        var statuses = new ConcurrentDictionary<string, ConcurrentBag<HttpStatusCode>>();
        var failures = new ConcurrentQueue<string>();
        var reports = new ConcurrentBag<ReconcileReport>();

        async Task ResolveAsync(OperatorPlan plan, HttpClient client)
        {
            object body = plan.Call.Charged && plan.NameCost
                ? new { charged = true, cost_usd = plan.Call.AmountMinor / 100m }
                : new { charged = plan.Call.Charged };
            HttpResponseMessage response = await client.PostAsJsonAsync($"/v1/audit/{plan.Call.Tenant}/{plan.Call.AuditId}/resolve", body);
            statuses.GetOrAdd(plan.Call.AuditId, _ => []).Add(response.StatusCode);
            if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.Conflict))
            {
                failures.Enqueue($"resolve of {plan.Call} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }
        }

        async Task OperatorAsync(OperatorPlan plan)
        {
            await Task.Delay(plan.DelayMs);
            if (plan.DoubleClick)
            {
                await Task.WhenAll(ResolveAsync(plan, root), ResolveAsync(plan, secondRoot));
            }
            else
            {
                await ResolveAsync(plan, plan.DelayMs % 2 == 0 ? root : secondRoot);
            }
        }

        async Task ReconcilerAsync(Reconciler reconciler, IEnumerable<int> delays)
        {
            foreach (int delay in delays)
            {
                await Task.Delay(delay);
                reports.Add(await reconciler.RunAsync(CancellationToken.None));
            }
        }

        async Task LateOutcomesAsync()
        {
            await Task.Delay(lateDelay);
            Ledger.BeforeComplete.Open();
            foreach (HttpResponseMessage answer in await Task.WhenAll(lateAnswers))
            {
                if (answer.StatusCode != HttpStatusCode.OK)
                {
                    failures.Enqueue($"a late call answered {(int)answer.StatusCode}");
                }
            }
        }

        var midnightCrossed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task ClockAsync()
        {
            // 23:56 to 00:08 in 45-second steps.
            foreach (int step in clockSteps)
            {
                await Task.Delay(step);
                clock.Advance(TimeSpan.FromSeconds(45));
            }

            midnightCrossed.TrySetResult();
        }

        async Task RollupsAsync()
        {
            int run = 0;
            while (true)
            {
                bool last = midnightCrossed.Task.IsCompleted;
                await Task.Delay(rollupDelays[run++ % rollupDelays.Length]);
                HttpResponseMessage rolled = await (run % 2 == 0 ? root : secondRoot).PostAsync($"/v1/rollups/{Day:yyyy-MM-dd}", null);
                if (rolled.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.Conflict))
                {
                    failures.Enqueue($"rollup run answered {(int)rolled.StatusCode}: {await rolled.Content.ReadAsStringAsync()}");
                }

                if (last)
                {
                    return;
                }
            }
        }

        Task race = Task.WhenAll(
            Task.WhenAll(plans.Where(p => p.Resolve).Select(OperatorAsync)),
            ReconcilerAsync(_proxy.Host.Services.GetRequiredService<Reconciler>(), reconcilerDelays.Take(3)),
            ReconcilerAsync(_second.Services.GetRequiredService<Reconciler>(), reconcilerDelays.Skip(3)),
            LateOutcomesAsync(),
            ClockAsync(),
            RollupsAsync());
        await race.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(failures.IsEmpty, Because(string.Join("\n", failures)));
        Assert.True(clock.GetUtcNow() > new DateTimeOffset(2026, 11, 3, 0, 0, 0, TimeSpan.Zero), Because("the clock did not cross midnight"));

        // Every row resolved exactly once, and as Stripe really acted.
        Dictionary<string, TableEntity> rows = (await _proxy.AuditRowsAsync()).ToDictionary(r => r.RowKey);
        int byOperator = 0, byReconciler = 0;
        foreach (Call call in inDoubt)
        {
            TableEntity row = rows[call.AuditId];
            string outcome = row.GetString("Outcome");
            string reason = row.GetString("Reason") ?? string.Empty;
            long cost = row.GetInt64("CostMicros")!.Value;
            HttpStatusCode[] answers = [.. statuses.GetValueOrDefault(call.AuditId) ?? []];
            int ok = answers.Count(s => s == HttpStatusCode.OK);
            string what = $"{call} row {outcome} {cost} '{reason}', operator answers [{string.Join(", ", answers.Select(s => (int)s))}]";
            Assert.True(ok <= 1, Because("resolved twice by operators: " + what));
            if (reason.StartsWith("resolved: ", StringComparison.Ordinal))
            {
                byOperator++;
                Assert.True(ok == 1, Because("operator state without an operator's 200: " + what));
            }
            else if (reason.StartsWith("resolved by reconciler: ", StringComparison.Ordinal))
            {
                byReconciler++;
                Assert.True(ok == 0, Because("reconciler state after an operator's 200: " + what));
            }
            else
            {
                Assert.True(call.Late && ok == 0 && outcome == AuditOutcome.Forwarded, Because("not resolved: " + what));
            }

            (string, long) expected = call.Charged ? (AuditOutcome.Forwarded, call.AmountMinor * 10_000) : (AuditOutcome.Error, 0L);
            Assert.True(expected == (outcome, cost), Because($"expected {expected}: " + what));
        }

        int reconcilerResolved = reports.Sum(r => r.InDoubtResolved);
        Assert.True(byReconciler == reconcilerResolved, Because($"{byReconciler} rows in the reconciler's state, its runs report {reconcilerResolved} resolved"));
        output.WriteLine($"seed {seed}: {inDoubt.Count} in doubt; {byOperator} resolved by operators, {byReconciler} by the reconcilers, "
            + $"{inDoubt.Count - byOperator - byReconciler} by late outcomes; {statuses.Values.Sum(b => b.Count(s => s == HttpStatusCode.Conflict))} operator 409s");

        // The consistency check on both days: counters and rollups agree with their rows.
        foreach (DateOnly date in new[] { Day, NextDay })
        {
            HttpResponseMessage checkResponse = await root.GetAsync($"/v1/consistency?date={date:yyyy-MM-dd}");
            string body = await checkResponse.Content.ReadAsStringAsync();
            Assert.True(checkResponse.StatusCode == HttpStatusCode.OK, Because($"consistency {date}: {(int)checkResponse.StatusCode} {body}"));
            JsonElement report = JsonDocument.Parse(body).RootElement;
            Assert.True(report.GetProperty("drift_count").GetInt32() == 0, Because($"drift on {date}: {body}"));
            if (date == Day)
            {
                // A rollup run after midnight marked the day: the check compared every tenant's rollup with its rows.
                Assert.True(report.GetProperty("rollups").EnumerateArray().Count(r => r.GetProperty("complete").GetBoolean()) == Tenants.Length, Because($"rollups of {date} not complete: {body}"));
            }
        }

        // Stripe's succeeded charges (not replays) are what the audit rows cost, to the micro-dollar.
        long atStripe = _proxy.Vendors.Stripe.Ledger
            .Where(e => e.Method == "POST" && e.Path == "/v1/payment_intents" && e.Status == 200 && !e.Replayed)
            .Sum(e => e.AmountMinor!.Value * 10_000);
        List<TableEntity> all = [.. rows.Values];
        long audited = all.Sum(r => r.GetInt64("CostMicros")!.Value);
        Assert.True(atStripe == audited, Because($"Stripe charged {atStripe} micros, the audit rows cost {audited}"));

        // The monthly budgets (outside the rows' partitions, moved through the journal) hold each tenant's charges.
        foreach (string tenant in Tenants)
        {
            long charged = all.Where(r => r.PartitionKey.StartsWith(tenant + "|", StringComparison.Ordinal)).Sum(r => Math.Max(0, r.GetInt64("CostMicros")!.Value));
            long monthly = await CounterAsync($"{tenant}|m|2026-11", $"~cap|budget|{tenant}:billing-agent|m");
            Assert.True(charged == monthly, Because($"monthly budget of {tenant} holds {monthly}, its rows cost {charged}"));
        }
    }

    /// <summary>The key id a row was made with (its KeyId column).</summary>
    private static string? RowKeyId(TableEntity row) => row.GetString("KeyId");

    private async Task<HttpResponseMessage> ChargeAsync(JsonElement key, long amount, bool declined, string? idempotencyKey)
    {
        using HttpClient agent = _proxy.StripeAgent(key);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/payment_intents")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["amount"] = amount.ToString(CultureInfo.InvariantCulture),
                ["currency"] = "usd",
                ["confirm"] = "true",
                ["payment_method"] = declined ? "pm_card_chargeDeclined" : "pm_card_visa",
            }),
        };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return await agent.SendAsync(request);
    }

    private async Task<long> CounterAsync(string partition, string row)
    {
        TableClient table = TestStorage.Service().GetTableClient(_proxy.Host.TablePrefix + "audit");
        NullableResponse<TableEntity> counter = await table.GetEntityIfExistsAsync<TableEntity>(partition, row);
        return counter.HasValue ? counter.Value!.GetInt64("UsedMicros")!.Value : 0;
    }
}
