using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Keybrake.Sandbox.Tests;

/// <summary>The fake Lago and OpenMeter: wire formats, duplicates as the real ones answer them, injected failures.</summary>
public sealed class MeterHttpTests : IAsyncLifetime
{
    private FakeLago _lago = null!;
    private FakeOpenMeter _openMeter = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _lago = await FakeLago.StartAsync();
        _openMeter = await FakeOpenMeter.StartAsync();
        _http = new HttpClient();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _lago.DisposeAsync();
        await _openMeter.DisposeAsync();
    }

    [Fact]
    public async Task Lago_accepts_an_event_and_refuses_its_transaction_id_twice_with_422_value_already_exist()
    {
        const string body = """
            {"event":{"transaction_id":"acme-2026-11-02","external_subscription_id":"sub_acme","code":"keybrake_spend",
              "timestamp":1793577600,"properties":{"value":1234},"precise_total_amount_cents":"1234"}}
            """;
        using var first = await Lago(body);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var stored = JsonNode.Parse(await first.Content.ReadAsStringAsync())!["event"]!;
        Assert.Equal("acme-2026-11-02", (string)stored["transaction_id"]!);
        Assert.Equal("2026-11-02T00:00:00.000Z", (string)stored["timestamp"]!);

        using var again = await Lago(body);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, again.StatusCode);
        var error = JsonNode.Parse(await again.Content.ReadAsStringAsync())!;
        Assert.Equal("validation_errors", (string)error["code"]!);
        Assert.Equal("value_already_exist", (string)error["error_details"]!["transaction_id"]![0]!);

        var accepted = Assert.Single(_lago.Events);
        Assert.Equal(("sub_acme", "keybrake_spend", 1793577600L, 1234m), (accepted.ExternalSubscriptionId, accepted.Code, accepted.Timestamp, accepted.PreciseTotalAmountCents));
        Assert.Equal(1234, (int)accepted.Properties["value"]!);
        Assert.Equal([200, 422], _lago.Ledger.Select(e => e.Status));
    }

    [Fact]
    public async Task Lago_validates_fields_and_authenticates()
    {
        using var missing = await Lago("""{"event":{"transaction_id":"t1","code":"keybrake_spend"}}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, missing.StatusCode);
        Assert.Contains("external_subscription_id", await missing.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var notWrapped = await Lago("""{"transaction_id":"t1"}""");
        Assert.Equal(HttpStatusCode.BadRequest, notWrapped.StatusCode);
        using var wrongKey = await Lago("""{"event":{"transaction_id":"t1","external_subscription_id":"s","code":"c"}}""", "not-the-key");
        Assert.Equal(HttpStatusCode.Unauthorized, wrongKey.StatusCode);
        Assert.Empty(_lago.Events);
    }

    [Fact]
    public async Task Lago_fails_the_next_n_requests_then_recovers()
    {
        _lago.Options.FailNextRequests(2);
        const string body = """{"event":{"transaction_id":"t1","external_subscription_id":"s","code":"c"}}""";
        using var one = await Lago(body);
        using var two = await Lago(body);
        using var three = await Lago(body);

        Assert.Equal([500, 500, 200], new[] { one, two, three }.Select(r => (int)r.StatusCode));
        Assert.Equal("Internal Server Error", (string)JsonNode.Parse(await one.Content.ReadAsStringAsync())!["error"]!);
        Assert.Single(_lago.Events);
    }

    [Fact]
    public async Task OpenMeter_answers_204_and_drops_a_repeated_source_and_id_silently()
    {
        const string cloudEvent = """
            {"specversion":"1.0","id":"acme-2026-11-02","source":"keybrake","type":"keybrake_spend","subject":"acme",
             "time":"2026-11-02T00:00:00Z","data":{"value":1234}}
            """;
        using var first = await OpenMeter(cloudEvent, "application/cloudevents+json");
        using var again = await OpenMeter(cloudEvent, "application/cloudevents+json");
        using var otherSource = await OpenMeter(cloudEvent.Replace("\"keybrake\"", "\"elsewhere\"", StringComparison.Ordinal), "application/cloudevents+json");

        Assert.Equal([204, 204, 204], new[] { first, again, otherSource }.Select(r => (int)r.StatusCode));
        Assert.Equal(2, _openMeter.Events.Count);
        Assert.Equal(1, _openMeter.DroppedDuplicates);
        var ingested = _openMeter.Events[0];
        Assert.Equal(("keybrake_spend", "acme", new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.Zero)), (ingested.Type, ingested.Subject, ingested.Time));
        Assert.Equal(1234, (int)ingested.Data!["value"]!);
    }

    [Fact]
    public async Task OpenMeter_takes_batches_and_refuses_invalid_events_with_a_problem_document()
    {
        using var batch = await OpenMeter("""
            [{"specversion":"1.0","id":"a","source":"s","type":"t","subject":"x"},
             {"specversion":"1.0","id":"b","source":"s","type":"t","subject":"x"}]
            """, "application/cloudevents-batch+json");
        Assert.Equal(HttpStatusCode.NoContent, batch.StatusCode);

        using var noSubject = await OpenMeter("""{"specversion":"1.0","id":"c","source":"s","type":"t"}""", "application/cloudevents+json");
        Assert.Equal(HttpStatusCode.BadRequest, noSubject.StatusCode);
        Assert.Equal("application/problem+json", noSubject.Content.Headers.ContentType!.MediaType);
        Assert.Contains("subject", await noSubject.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var plainJson = await OpenMeter("""{"specversion":"1.0","id":"d","source":"s","type":"t","subject":"x"}""", "application/json");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, plainJson.StatusCode);
        using var wrongKey = await OpenMeter("""{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"x"}""", "application/cloudevents+json", "nope");
        Assert.Equal(HttpStatusCode.Unauthorized, wrongKey.StatusCode);

        _openMeter.Options.FailNextRequests(1, 503);
        using var unavailable = await OpenMeter("""{"specversion":"1.0","id":"f","source":"s","type":"t","subject":"x"}""", "application/cloudevents+json");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, unavailable.StatusCode);
        Assert.Equal(["a", "b"], _openMeter.Events.Select(e => e.Id));
    }

    [Fact]
    public async Task The_clock_can_be_a_test_clock()
    {
        var at = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
        _lago.Options.Clock = new FixedClock(at);
        using var response = await Lago("""{"event":{"transaction_id":"t1","external_subscription_id":"s","code":"c"}}""");

        Assert.Equal(at, _lago.Ledger[^1].ReceivedAt);
        Assert.Equal(at.ToUnixTimeSeconds(), Assert.Single(_lago.Events).Timestamp);
    }

    private Task<HttpResponseMessage> Lago(string json, string? key = null) =>
        Send(new Uri(_lago.BaseUrl, "api/v1/events"), json, "application/json", key ?? _lago.ApiKey);

    private Task<HttpResponseMessage> OpenMeter(string json, string contentType, string? key = null) =>
        Send(new Uri(_openMeter.BaseUrl, "api/v1/events"), json, contentType, key ?? _openMeter.ApiKey);

    private async Task<HttpResponseMessage> Send(Uri uri, string json, string contentType, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Content = new StringContent(json, Encoding.UTF8, contentType),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await _http.SendAsync(request);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
