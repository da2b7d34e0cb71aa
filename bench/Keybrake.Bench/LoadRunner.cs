using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Keybrake.Bench;

/// <summary>What one timed segment (one scenario, one concurrency, one round) measured.</summary>
internal sealed record Segment(
    string Scenario,
    int Concurrency,
    int Round,
    long[] LatencyTicks,
    int Failures,
    string? FirstFailure,
    TimeSpan Elapsed,
    long AllocatedBytes,
    double[] OverheadHeaderMs,
    long TableRequests,
    long VaultRequests)
{
    public int Completed => LatencyTicks.Length;

    public double RequestsPerSecond => Completed / Elapsed.TotalSeconds;
}

/// <summary>
/// A closed-loop load client: <c>concurrency</c> workers each send a $0.01 Stripe payment-intent create and wait
/// for the whole answer before the next, until the segment's time is up. Every request has a distinct order id in
/// its metadata, as real charges do, so the loop breaker never sees two identical calls.
/// </summary>
internal sealed class LoadRunner(HttpClient client)
{
    private static readonly MediaTypeHeaderValue Form = new("application/x-www-form-urlencoded");
    private long _sequence;

    /// <summary>Sends one charge; returns the status and the overhead header, if any.</summary>
    public async Task<(HttpStatusCode Status, double? OverheadMs, string Body)> ChargeAsync(Uri url, string credential, long amountMinor = 1, string run = "load")
    {
        long order = Interlocked.Increment(ref _sequence);
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new ByteArrayContent(Encoding.ASCII.GetBytes(
                $"amount={amountMinor}&currency=usd&confirm=true&payment_method=pm_card_visa&metadata%5Brun%5D={run}&metadata%5Border%5D={order}")),
        };
        request.Content.Headers.ContentType = Form;
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        using HttpResponseMessage response = await client.SendAsync(request);
        string body = await response.Content.ReadAsStringAsync();
        double? overhead = response.Headers.TryGetValues("X-Keybrake-Overhead-Ms", out IEnumerable<string>? values) &&
                           double.TryParse(values.First(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double ms)
            ? ms
            : null;
        return (response.StatusCode, overhead, body);
    }

    public async Task<Segment> RunAsync(Target target, int concurrency, TimeSpan duration, int round, Func<long> tableRequests, Func<long> vaultRequests)
    {
        var latencies = new List<long>[concurrency];
        var overheads = new List<double>[concurrency];
        int failures = 0;
        string? firstFailure = null;
        using var start = new SemaphoreSlim(0);
        Task[] workers = new Task[concurrency];
        long deadline = 0;
        for (int w = 0; w < concurrency; w++)
        {
            int worker = w;
            latencies[worker] = new List<long>(4096);
            overheads[worker] = new List<double>(4096);
            workers[worker] = Task.Run(async () =>
            {
                await start.WaitAsync();
                string credential = target.Credentials[worker % target.Credentials.Count];
                Uri url = target.SecondUrl is Uri second && worker % 2 == 1 ? second : target.Url;
                while (Stopwatch.GetTimestamp() < Volatile.Read(ref deadline))
                {
                    long sent = Stopwatch.GetTimestamp();
                    (HttpStatusCode status, double? overhead, string body) = await ChargeAsync(url, credential);
                    long took = Stopwatch.GetTimestamp() - sent;
                    if (status != HttpStatusCode.OK)
                    {
                        Interlocked.Increment(ref failures);
                        Interlocked.CompareExchange(ref firstFailure, $"{(int)status} {body[..Math.Min(body.Length, 300)]}", null);
                        continue;
                    }

                    latencies[worker].Add(took);
                    if (overhead is double ms)
                    {
                        overheads[worker].Add(ms);
                    }
                }
            });
        }

        long tablesBefore = tableRequests();
        long vaultBefore = vaultRequests();
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        long began = Stopwatch.GetTimestamp();
        Volatile.Write(ref deadline, began + (long)(duration.TotalSeconds * Stopwatch.Frequency));
        start.Release(concurrency);
        await Task.WhenAll(workers);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(began);
        long allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;

        return new Segment(
            target.Name, concurrency, round,
            [.. latencies.SelectMany(l => l)], failures, firstFailure, elapsed, allocated,
            [.. overheads.SelectMany(o => o)],
            tableRequests() - tablesBefore, vaultRequests() - vaultBefore);
    }
}
