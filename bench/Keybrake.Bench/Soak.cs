using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;
using Keybrake.Domain.Proxy;
using Keybrake.Infrastructure.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Keybrake.Bench;

/// <summary>
/// The soak command (scripts/soak.sh): many proxied calls over many keys and tenants, first through the in-memory
/// path, then through Azurite, printing the process's working set and managed heap at every checkpoint. Memory
/// should be flat after warm-up: the proxy's per-instance maps follow the keys and days in use, not every one
/// ever seen. Two things that would grow by design are kept out of the process: the upstream is a sink that
/// answers every charge alike and keeps nothing (the fake Stripe keeps every object it creates), and the
/// in-memory path's ledger keeps counters but not audit rows (a table keeps those, outside this process).
/// </summary>
internal static class Soak
{
    public static async Task RunAsync(string storage, long calls, long every, int keys, int tenants, IReadOnlySet<string> paths)
    {
        await using Sink sink = await Sink.StartAsync();
        await using Targets targets = await Targets.StartAsync(storage, CountersOnlyLedger.Replace, stripeBaseUrl: sink.BaseUrl);
        using var handler = new SocketsHttpHandler { UseProxy = false, UseCookies = false, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromMinutes(2) };
        var runner = new LoadRunner(client);
        Console.WriteLine($"Soak: {calls:N0} calls per path over {keys:N0} keys in {tenants} tenants, 64 workers, a line every {every:N0} calls.");
        foreach ((string name, Uri host) in new[] { ("memory", targets.MemoryBase), ("azurite", targets.AzuriteBase) }.Where(p => paths.Contains(p.Item1)))
        {
            Console.WriteLine($"Issuing {keys:N0} keys on the {name} host…");
            string[] issued = await IssueAsync(host, name == "memory" ? "soakm" : "soaka", keys, tenants);
            IServiceProvider services = targets.ServicesOf(host);
            await LoadAsync(name, runner, new Uri(host, "proxy/stripe/" + Targets.ChargePath), issued, calls, every, new Maps(services, tableLedger: name == "azurite"));
        }
    }

    private static async Task<string[]> IssueAsync(Uri host, string prefix, int keys, int tenants)
    {
        string[] issued = new string[keys];
        int next = -1;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            for (int i = Interlocked.Increment(ref next); i < keys; i = Interlocked.Increment(ref next))
            {
                issued[i] = await IssueOneAsync(host, $"{prefix}{i % tenants}:billing-agent:soak:run-{i}");
            }
        }));
        return issued;
    }

    /// <summary>One key, asked again when Azurite, busy with the other issuers, answers 503: setup, not what is measured.</summary>
    private static async Task<string> IssueOneAsync(Uri host, string label)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return (await Targets.IssueKeyAsync(host, label, 10_000m)).Key;
            }
            catch (InvalidOperationException e) when (attempt < 5 && e.Message.Contains(" 503 ", StringComparison.Ordinal))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt));
            }
        }
    }

    private static async Task LoadAsync(string name, LoadRunner runner, Uri url, string[] keys, long calls, long every, Maps maps)
    {
        long next = -1;
        long failures = 0;
        long began = Stopwatch.GetTimestamp();
        var checkpoints = new SemaphoreSlim(1, 1);
        Console.WriteLine($"{"path",-10} {"calls",12} {"calls/s",8} {"working set MB",15} {"managed heap MB",16} {"key cache",10} {"owners",8} {"ledger maps",12} {"failed",7} {"Azurite RSS MB",15}");
        await Task.WhenAll(Enumerable.Range(0, 64).Select(worker => Task.Run(async () =>
        {
            for (long i = Interlocked.Increment(ref next); i < calls; i = Interlocked.Increment(ref next))
            {
                // Round robin over the keys: each key comes back only after every other one, so key records expire
                // between uses and the per-key maps see the whole key population churn.
                (HttpStatusCode status, _, _) = await runner.ChargeAsync(url, keys[i % keys.Length]);
                if (status != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref failures);
                }

                if ((i + 1) % every == 0)
                {
                    await checkpoints.WaitAsync();
                    try
                    {
                        // Heap after a full collection: what is still referenced, not garbage awaiting collection.
                        long heap = GC.GetTotalMemory(forceFullCollection: true);
                        double rate = (i + 1) / Stopwatch.GetElapsedTime(began).TotalSeconds;
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"{name,-10} {i + 1,12:N0} {rate,8:0} {Environment.WorkingSet / 1048576.0,15:0.0} {heap / 1048576.0,16:0.0} {maps.Keys.Count,10:N0} {maps.Owners.Count,8:N0} {maps.LedgerEntries,12} {Interlocked.Read(ref failures),7} {AzuriteResidentMegabytes(),15}"));
                    }
                    finally
                    {
                        checkpoints.Release();
                    }
                }
            }
        })));
    }

    /// <summary>The per-instance maps that follow calls, keys and days; each is bounded, and the soak prints their sizes.</summary>
    private sealed class Maps(IServiceProvider services, bool tableLedger)
    {
        public VaultKeyCache Keys { get; } = services.GetRequiredService<VaultKeyCache>();

        public ObjectOwnershipCache Owners { get; } = services.GetRequiredService<ObjectOwnershipCache>();

        private readonly TableReservationLedger? _table = tableLedger ? services.GetRequiredService<TableReservationLedger>() : null;

        /// <summary>The table ledger's counters, loop windows, intents and writers; "-" on the in-memory path (none there).</summary>
        public string LedgerEntries => _table?.RememberedEntries.ToString("N0", CultureInfo.InvariantCulture) ?? "-";
    }

    /// <summary>Azurite's resident set from /proc (bench.sh passes its PID), or "-" when not known.</summary>
    public static string AzuriteResidentMegabytes()
    {
        string? pid = Environment.GetEnvironmentVariable("KEYBRAKE_BENCH_AZURITE_PID");
        string status = $"/proc/{pid}/status";
        if (string.IsNullOrEmpty(pid) || !File.Exists(status))
        {
            return "-";
        }

        string? line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return line is null ? "-" : (long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0).ToString("0", CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The in-memory stores with a ledger that reserves on counters but keeps no audit rows, so the in-memory path's
    /// memory is the proxy's own. Counters are per key and day, as in the table: bounded by the keys in use today.
    /// </summary>
    private sealed class CountersOnlyLedger : IReservationLedger
    {
        private readonly ConcurrentDictionary<string, long> _counters = new(StringComparer.Ordinal);

        public static void Replace(IServiceCollection services)
        {
            InMemoryStores.Replace(services);
            services.Replace(ServiceDescriptor.Singleton<IReservationLedger, CountersOnlyLedger>());
        }

        public Task<BeginResult> BeginAsync(AuditEntry intent, Reservation reservation, CancellationToken cancellationToken)
        {
            long amount = Math.Max(0, reservation.AmountMicros);
            var reserved = new List<(CapCounter Counter, long Used)>();
            foreach (CapCounter counter in amount > 0 ? reservation.Counters : [])
            {
                long used = _counters.AddOrUpdate(counter.Partition + "|" + counter.Row, amount, (_, current) => current + amount);
                if (used > counter.LimitMicros)
                {
                    _counters.AddOrUpdate(counter.Partition + "|" + counter.Row, 0, (_, current) => current - amount);
                    return Task.FromResult(new BeginResult(BeginStatus.CapExceeded, counter, used - amount));
                }

                reserved.Add((counter, used));
            }

            return Task.FromResult(new BeginResult(BeginStatus.Reserved) { Reserved = reserved });
        }

        public Task CompleteAsync(AuditEntry outcome, Reservation reservation, long heldMicros, bool releaseIdempotencyKey, CancellationToken cancellationToken)
        {
            long delta = reservation.AmountMicros > 0 ? heldMicros - reservation.AmountMicros : 0;
            foreach (CapCounter counter in delta != 0 ? reservation.Counters : [])
            {
                _counters.AddOrUpdate(counter.Partition + "|" + counter.Row, delta, (_, current) => current + delta);
            }

            return Task.CompletedTask;
        }

        public Task RecordDenialAsync(AuditEntry denial, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<AuditEntry?> TransitionAsync(
            string tenant, string id, Func<AuditEntry, (AuditEntry Outcome, long HeldMicros)?> decide, CancellationToken cancellationToken) =>
            throw MemoryKeyStore.NotInBench();

        public Task<bool> ReplaysEarlierCallAsync(AuditEntry row, CancellationToken cancellationToken) => throw MemoryKeyStore.NotInBench();

        public Task<LedgerDay> DayAsync(string tenant, DateTimeOffset day, CancellationToken cancellationToken) => throw MemoryKeyStore.NotInBench();

        public Task<IReadOnlyList<(CounterRef Counter, long Used)>> CountersAsync(string partition, CancellationToken cancellationToken) =>
            throw MemoryKeyStore.NotInBench();

        public Task<UnsettledDay> UnsettledAsync(string tenant, DateTimeOffset day, DateTimeOffset journalsWrittenBefore, CancellationToken cancellationToken) =>
            throw MemoryKeyStore.NotInBench();

        public Task<AuditEntry?> GetAsync(string tenant, string id, CancellationToken cancellationToken) => Task.FromResult<AuditEntry?>(null);

        public Task<long> UsedAsync(CapCounter counter, CancellationToken cancellationToken) =>
            Task.FromResult(_counters.GetValueOrDefault(counter.Partition + "|" + counter.Row));
    }

    /// <summary>
    /// An upstream that answers every payment-intent create with the same succeeded intent (a fresh id each time,
    /// as Stripe would) and keeps nothing. The answer is one the fake Stripe gave, so the proxy prices it alike.
    /// </summary>
    private sealed class Sink : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private Sink(WebApplication app, Uri baseUrl)
        {
            _app = app;
            BaseUrl = baseUrl;
        }

        public Uri BaseUrl { get; }

        public static async Task<Sink> StartAsync()
        {
            await using Sandbox.FakeVendors vendors = await Sandbox.FakeVendors.StartAsync();
            using var client = new HttpClient();
            using var sample = new HttpRequestMessage(HttpMethod.Post, new Uri(vendors.Stripe.BaseUrl, Targets.ChargePath))
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string>
                {
                    ["amount"] = "1", ["currency"] = "usd", ["confirm"] = "true", ["payment_method"] = "pm_card_visa",
                }),
            };
            sample.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", vendors.Stripe.SecretKey);
            using HttpResponseMessage answer = await client.SendAsync(sample);
            string body = await answer.Content.ReadAsStringAsync();
            using System.Text.Json.JsonDocument parsed = System.Text.Json.JsonDocument.Parse(body);
            string id = parsed.RootElement.GetProperty("id").GetString()!;

            WebApplicationBuilder builder = WebApplication.CreateBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            WebApplication app = builder.Build();
            long sequence = 0;
            app.Run(async context =>
            {
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(body.Replace(id, "pi_soak" + Interlocked.Increment(ref sequence).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal), Encoding.UTF8);
            });
            await app.StartAsync();
            string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new Sink(app, new Uri(address.TrimEnd('/') + "/"));
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
