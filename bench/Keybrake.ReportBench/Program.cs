using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Azure.Data.Tables;
using Keybrake.Domain.Activity;
using Keybrake.Domain.Audit;
using Keybrake.Domain.Operators;
using Keybrake.Domain.Proxy;
using Keybrake.Functions.Composition;
using Keybrake.Infrastructure.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

// The month report benchmark: N audit rows for one tenant over 30 closed days on Table Storage (Azurite),
// then the month's spend report read from audit rows and from rollups, side by side, with what each read.
// Usage: Keybrake.ReportBench --storage <connection string> [--rows 30000] [--repeat 3] [--out docs/report-benchmark.md]
// The report from audit rows runs once (it reads every row); the one from rollups --repeat times (median).
Dictionary<string, string> options = Options(args);
string storage = options.GetValueOrDefault("storage") ?? throw new ArgumentException("--storage <connection string> is required");
// 30,000 by default (a minute and a half here; 300,000 takes five): Azurite's insert cost grows with the partition's
// size, so 1,000,000 (33,000 rows a partition) takes over half an hour to write here; see docs/report-benchmark.md.
int rows = int.Parse(options.GetValueOrDefault("rows") ?? "30000", CultureInfo.InvariantCulture);
int repeat = int.Parse(options.GetValueOrDefault("repeat") ?? "3", CultureInfo.InvariantCulture);
const int Days = 30;
const string Tenant = "bench";

IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
{
    ["Tables:ConnectionString"] = storage,
    ["Tables:Prefix"] = "rb" + Guid.NewGuid().ToString("N")[..8],
    ["Secrets:keybrake-root-token"] = Guid.NewGuid().ToString("N"),
    ["Queues:Reconcile"] = "rb-reconcile",
    ["Queues:Nightly"] = "rb-nightly",
}).Build();
await using ServiceProvider services = new ServiceCollection().AddLogging().AddKeybrake(configuration).BuildServiceProvider();
KeybrakeTables tables = services.GetRequiredService<KeybrakeTables>();
SpendQueryService spend = services.GetRequiredService<SpendQueryService>();
RollupService rollups = services.GetRequiredService<RollupService>();

DateTimeOffset now = DateTimeOffset.UtcNow;
DateTimeOffset today = new(now.UtcDateTime.Date, TimeSpan.Zero);
DateTimeOffset first = today.AddDays(-Days);
// The month report is the dashboard's month to date: from the 1st of the month yesterday was in (on the 1st, all of last
// month and today), so its closed days are in one month partition.
DateTimeOffset monthStart = new(today.AddDays(-1).Year, today.AddDays(-1).Month, 1, 0, 0, 0, TimeSpan.Zero);
Console.WriteLine($"Writing {rows:N0} audit rows for tenant '{Tenant}' over {Days} days ({first:yyyy-MM-dd} .. {today.AddDays(-1):yyyy-MM-dd}) and today so far...");
// The writer gets its own client: the app's gives up after 10 s, which a busy Azurite can exceed on a batch of 100.
await tables.GetAsync(KeybrakeTables.Audit, CancellationToken.None);
var writerOptions = new TableClientOptions();
writerOptions.Retry.NetworkTimeout = TimeSpan.FromMinutes(2);
writerOptions.Retry.MaxRetries = 5;
TableClient writer = new TableServiceClient(storage, writerOptions).GetTableClient(tables.Prefix + KeybrakeTables.Audit);
TimeSpan writeTime = await WriteAuditRowsAsync(writer, rows, first, now);

// The rows went straight to the table, past the proxy's audit log: note the tenant-days in the activity index as it would have.
IActivityIndex activity = services.GetRequiredService<IActivityIndex>();
for (int d = 0; d <= Days; d++)
{
    await activity.RecordAsync(Tenant, DateOnly.FromDateTime(first.AddDays(d).UtcDateTime), CancellationToken.None);
}

Console.WriteLine($"  written in {writeTime.TotalSeconds:F1} s ({rows / writeTime.TotalSeconds:N0} rows/s)");

var caller = new OperatorPrincipal(Tenant, "bench");
async Task<(SpendReport Report, TimeSpan Median)> MonthReportAsync(bool useRollups)
{
    var times = new List<TimeSpan>();
    SpendReport? report = null;
    for (int i = 0; i < (useRollups ? repeat : 1); i++)
    {
        var watch = Stopwatch.StartNew();
        report = await spend.QueryAsync(caller, monthStart, null, "agent_type,vendor", null, null, useRollups, CancellationToken.None);
        times.Add(watch.Elapsed);
    }

    return (report!, times.Order().ElementAt(times.Count / 2));
}

Console.WriteLine("Month report from audit rows...");
(SpendReport fromAudit, TimeSpan auditTime) = await MonthReportAsync(useRollups: false);

Console.WriteLine($"Rolling up {Days} days...");
var rollWatch = Stopwatch.StartNew();
await Parallel.ForAsync(0, Days, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (d, cancellationToken) =>
    await rollups.RunAsync(Tenant, DateOnly.FromDateTime(first.AddDays(d).UtcDateTime), cancellationToken));

TimeSpan rollTime = rollWatch.Elapsed;
Console.WriteLine($"Month report from rollups ({repeat}x)...");
(SpendReport fromRollups, TimeSpan rollupTime) = await MonthReportAsync(useRollups: true);

// The comparison only means something if both paths give the same report.
string Render(SpendReport r) => string.Join('\n', r.Groups.Select(g => $"{string.Join('|', g.Keys)} {g.GrossMicros} {g.RefundsMicros} {g.FeeMicros} {g.Calls} {g.Denied}"));
bool same = Render(fromAudit) == Render(fromRollups);
long totalMicros = fromAudit.Groups.Sum(g => g.NetMicros);

var md = new StringBuilder();
md.AppendLine("# Month spend report: audit rows vs rollups").AppendLine()
  .AppendLine(CultureInfo.InvariantCulture, $"Generated by `scripts/bench-reports.sh` on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, commit `{Environment.GetEnvironmentVariable("KEYBRAKE_COMMIT") ?? "unknown"}`,")
  .AppendLine(CultureInfo.InvariantCulture, $"{Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}, Azurite (in memory) on loopback.")
  .AppendLine()
  .AppendLine(CultureInfo.InvariantCulture, $"{rows:N0} audit rows for one tenant over {Days} closed days, and half a day's share more today up to {now:HH:mm} UTC, written in {writeTime.TotalSeconds:F1} s ({rows / writeTime.TotalSeconds:N0} rows/s, entity-group batches of 100).")
  .AppendLine(CultureInfo.InvariantCulture, $"The report is `GET /v1/spend?since={monthStart:yyyy-MM-dd}&group_by=agent_type,vendor` for that tenant (the month to date, today included): once from audit rows, median of {repeat} runs from rollups.")
  .AppendLine()
  .AppendLine("| month report | time | rollup partitions read | audit partitions read | entities read |")
  .AppendLine("|---|---:|---:|---:|---:|")
  .AppendLine(CultureInfo.InvariantCulture, $"| from audit rows | {auditTime.TotalMilliseconds:N0} ms | 0 (0 days) | {fromAudit.AuditPartitions} | {fromAudit.EntitiesRead:N0} |")
  .AppendLine(CultureInfo.InvariantCulture, $"| from rollups | {rollupTime.TotalMilliseconds:N0} ms | {fromRollups.RollupPartitions} ({fromRollups.RolledDays} days) | {fromRollups.AuditPartitions} | {fromRollups.EntitiesRead:N0} |")
  .AppendLine()
  .AppendLine(CultureInfo.InvariantCulture, $"Speed-up: {auditTime / rollupTime:F1}x. Rolling up the {Days} days (4 at a time) took {rollTime.TotalSeconds:F1} s; in production the `DailyRollup` timer rolls one day a night.")
  .AppendLine(CultureInfo.InvariantCulture, $"Both reports identical: {(same ? "yes" : "NO")} ({fromAudit.Groups.Count} groups, net {totalMicros / 1_000_000m:N2} USD).")
  .AppendLine()
  .AppendLine("A month partition holds the tenant, agent-type and feature rollups (a few dozen rows a day here), so the month's closed days")
  .AppendLine("are one read; runs and labels (hundreds to thousands a day) stay in the day partitions, read one per day when a report")
  .AppendLine("groups by them or filters on a label prefix inside the tenant.")
  .AppendLine()
  .AppendLine(CultureInfo.InvariantCulture, $"Azurite is one Node.js process serving about {fromAudit.EntitiesRead / auditTime.TotalSeconds:N0} entities/s here, so absolute times are not Table Storage's; the partition and entity counts are what carries over.")
  .AppendLine()
  .AppendLine("Why not a million rows by default: Azurite's cost per insert grows with the size of the partition it goes to. Writing")
  .AppendLine("100,000 rows into 30 partitions of 3,300 took 19 s here, but the first 100,000 rows of a 1,000,000-row run (33,000 rows")
  .AppendLine("per partition) took 246 s, on a quiet machine, with batches or with single inserts alike: a million would take over half")
  .AppendLine("an hour to write, past the 15 minutes this benchmark is allowed. `scripts/bench-reports.sh 1000000` still runs it;")
  .AppendLine("`scripts/bench-reports.sh 300000` takes about five minutes.");
Console.WriteLine();
Console.WriteLine(md.ToString());
if (options.GetValueOrDefault("out") is string outPath)
{
    await File.WriteAllTextAsync(outPath, md.ToString());
    Console.WriteLine($"Wrote {outPath}");
}

return same ? 0 : 1;

// Rows as the proxy writes them (same entity shape), in entity-group batches: writing a million through the
// proxy's two round trips per call would measure the proxy, not the report.
static async Task<TimeSpan> WriteAuditRowsAsync(TableClient audit, int count, DateTimeOffset first, DateTimeOffset now)
{
    string[] agents = ["billing-agent", "notify-agent", "onboarding-agent", "support-agent", "collections-agent"];
    string[] vendors = ["stripe", "twilio", "resend", "stripe", "stripe"];
    var random = new Random(20261102);
    int perDay = count / Days;
    var batches = new List<List<TableTransactionAction>>();
    for (int d = 0; d <= Days; d++)
    {
        // Day Days is today: half a day's share, spread from midnight to now.
        int today = d == Days ? perDay / 2 : d == Days - 1 ? count - (perDay * (Days - 1)) : perDay;
        long span = d == Days ? (now - first.AddDays(d)).Ticks : TimeSpan.TicksPerDay;
        var batch = new List<TableTransactionAction>();
        for (int i = 0; i < today; i++)
        {
            DateTimeOffset at = first.AddDays(d).AddTicks((long)(span * ((i + 0.5) / today)));
            int agent = random.Next(agents.Length);
            bool denied = random.Next(100) < 3;
            bool refund = !denied && vendors[agent] == "stripe" && random.Next(100) < 5;
            long cost = denied ? 0 : vendors[agent] switch
            {
                "stripe" => random.Next(100, 20_000) * 10_000L * (refund ? -1 : 1),
                "twilio" => random.Next(1, 4) * 8_300L,
                _ => 900L,
            };
            var entry = new AuditEntry
            {
                Id = AuditEntry.NewId(at),
                Timestamp = at,
                Tenant = Tenant,
                Label = $"{Tenant}:{agents[agent]}:feature-{random.Next(4)}:run-{d}-{random.Next(50)}",
                KeyId = "k" + random.Next(1000).ToString(CultureInfo.InvariantCulture),
                Vendor = vendors[agent],
                Method = "POST",
                Path = "/v1/payment_intents",
                Operation = "payment_intents.create",
                Status = denied ? 402 : 200,
                Outcome = denied ? AuditOutcome.Denied : AuditOutcome.Forwarded,
                Reason = denied ? "cap_exceeded" : null,
                CostMicros = cost,
                CostSource = CostSource.Parsed,
                FeeMicros = vendors[agent] == "stripe" && !denied && !refund ? (cost * 29 / 1000) + 300_000 : null,
                LatencyMs = 40,
                UpstreamMs = 35,
            };
            batch.Add(new TableTransactionAction(TableTransactionActionType.Add, AuditEntities.ToEntity(entry)));
            if (batch.Count == 100)
            {
                batches.Add(batch);
                batch = [];
            }
        }

        if (batch.Count > 0)
        {
            batches.Add(batch);
        }
    }

    var watch = Stopwatch.StartNew();
    int done = 0;
    await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (batch, cancellationToken) =>
    {
        try
        {
            await audit.SubmitTransactionAsync(batch, cancellationToken);
        }
        catch (TableTransactionFailedException e) when (e.Status == 409)
        {
            // A retry of a batch whose first attempt landed but timed out: batches are atomic, so it is all there.
        }

        if (Interlocked.Increment(ref done) % 1000 == 0)
        {
            Console.WriteLine($"  {done * 100:N0} rows in {watch.Elapsed.TotalSeconds:F0} s");
        }
    });
    return watch.Elapsed;
}

static Dictionary<string, string> Options(string[] args)
{
    var options = new Dictionary<string, string>(StringComparer.Ordinal);
    for (int i = 0; i + 1 < args.Length; i += 2)
    {
        options[args[i].TrimStart('-')] = args[i + 1];
    }

    return options;
}
