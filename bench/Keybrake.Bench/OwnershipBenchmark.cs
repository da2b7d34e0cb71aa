using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Keybrake.Bench;

/// <summary>One kind of call measured one at a time: median latency and, per call, storage and vendor requests.</summary>
internal sealed record OwnershipCase(string Case, int Calls, double MedianMs, double P90Ms, double TableRequestsPerCall, double VendorRequestsPerCall);

/// <summary>
/// Issue #20's cost of object ownership on a shared Stripe account, on Azurite: a charge (names no object)
/// against a refund naming a payment intent the same instance created (owner cached when the charge was
/// recorded) and one naming a payment intent created through the other instance (owner not cached here: one
/// look-up of the intent's <c>metadata[keybrake_tenant]</c> at Stripe; Twilio and Resend read the owners
/// table instead). Sequential calls, so the figures are the cost of one call, not of contention.
/// </summary>
internal static class OwnershipBenchmark
{
    private static readonly string[] Endpoints = ["POST /v1/payment_intents", "POST /v1/refunds"];

    public static async Task<IReadOnlyList<OwnershipCase>> RunAsync(Targets targets, HttpClient client, BenchSettings settings)
    {
        int calls = settings.Quick ? 10 : 100;
        Uri here = targets.AzuriteBase;
        Uri other = await targets.StartAzuriteInstanceAsync(settings.Storage);
        (_, string key) = await Targets.IssueKeyAsync(here, "benchown:billing-agent:refunds:run-1", 10_000m, Endpoints);

        // Intents to refund: half created here, half through the other instance. Then a warm-up of each path.
        var createdHere = new List<string>();
        var createdThere = new List<string>();
        for (int i = 0; i < calls + 2; i++)
        {
            createdHere.Add((await SendAsync(client, here, key, "v1/payment_intents", Charge(i))).Id);
            createdThere.Add((await SendAsync(client, other, key, "v1/payment_intents", Charge(i))).Id);
        }

        await SendAsync(client, here, key, "v1/payment_intents", Charge(-1));
        await SendAsync(client, here, key, "v1/refunds", Refund(createdHere[^1]));
        await SendAsync(client, here, key, "v1/refunds", Refund(createdThere[^1]));
        targets.Vendors.Reset();

        return
        [
            await MeasureAsync("charge (names no object)", targets, client, here, key, calls, i => ("v1/payment_intents", Charge(1000 + i))),
            await MeasureAsync("refund of an intent created on this instance (owner cached)", targets, client, here, key, calls, i => ("v1/refunds", Refund(createdHere[i]))),
            await MeasureAsync("refund of an intent created on the other instance (owner looked up)", targets, client, here, key, calls, i => ("v1/refunds", Refund(createdThere[i]))),
        ];
    }

    private static async Task<OwnershipCase> MeasureAsync(
        string name, Targets targets, HttpClient client, Uri host, string key, int calls, Func<int, (string Path, string Body)> call)
    {
        var latencies = new List<double>();
        long tables = targets.TableRequests.Count;
        int vendor = targets.Vendors.Stripe.Ledger.Count;
        for (int i = 0; i < calls; i++)
        {
            (string path, string body) = call(i);
            long began = Stopwatch.GetTimestamp();
            await SendAsync(client, host, key, path, body);
            latencies.Add(Stopwatch.GetElapsedTime(began).TotalMilliseconds);
        }

        double tablesPerCall = (double)(targets.TableRequests.Count - tables) / calls;

        // Every call is one forwarded request at Stripe; anything above one per call is the proxy's own look-ups.
        double vendorPerCall = (double)(targets.Vendors.Stripe.Ledger.Count - vendor) / calls;
        targets.Vendors.Reset();
        latencies.Sort();
        return new OwnershipCase(name, calls, latencies[latencies.Count / 2], latencies[(int)(latencies.Count * 0.9)], tablesPerCall, vendorPerCall);
    }

    private static string Charge(int order) =>
        $"amount=1&currency=usd&confirm=true&payment_method=pm_card_visa&metadata%5Border%5D=own{order}";

    private static string Refund(string intent) => $"payment_intent={intent}&amount=1";

    private static async Task<(string Id, string Body)> SendAsync(HttpClient client, Uri host, string key, string path, string form)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(host, "proxy/stripe/" + path))
        {
            Content = new ByteArrayContent(Encoding.ASCII.GetBytes(form)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using HttpResponseMessage response = await client.SendAsync(request);
        string body = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"{path} failed: {(int)response.StatusCode} {body[..Math.Min(300, body.Length)]}");
        }

        using JsonDocument json = JsonDocument.Parse(body);
        return (json.RootElement.GetProperty("id").GetString()!, body);
    }
}
