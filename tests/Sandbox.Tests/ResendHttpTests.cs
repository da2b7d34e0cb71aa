using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Keybrake.Sandbox.Tests;

public sealed class ResendHttpTests : IAsyncLifetime
{
    private FakeResend _fake = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeResend.StartAsync();
        _http = new HttpClient { BaseAddress = _fake.BaseUrl };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _fake.ApiKey);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _fake.DisposeAsync();
    }

    [Fact]
    public async Task Sends_one_email_and_reads_it_back()
    {
        using var response = await Post("emails", """{"from":"a@example.com","to":"b@example.com","subject":"hi","html":"<p>hi</p>"}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var id = doc.RootElement.GetProperty("id").GetString()!;
        Assert.True(Guid.TryParse(id, out _));

        var entry = Assert.Single(_fake.Ledger);
        Assert.Equal(1, entry.EmailCount);
        Assert.Equal(id, entry.ObjectId);
        Assert.Equal("Bearer " + _fake.ApiKey, entry.Authorization);

        using var fetched = JsonDocument.Parse(await _http.GetStringAsync(new Uri("emails/" + id, UriKind.Relative)));
        Assert.Equal("email", fetched.RootElement.GetProperty("object").GetString());
        Assert.Equal("b@example.com", fetched.RootElement.GetProperty("to")[0].GetString());
    }

    [Fact]
    public async Task Batch_counts_every_email()
    {
        using var response = await Post("emails/batch", """
            [{"from":"a@example.com","to":["b@example.com","c@example.com"],"subject":"1","text":"x"},
             {"from":"a@example.com","to":"d@example.com","subject":"2","text":"y"},
             {"from":"a@example.com","to":"e@example.com","subject":"3","text":"z"}]
            """);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(3, doc.RootElement.GetProperty("data").GetArrayLength());
        Assert.Equal(3, Assert.Single(_fake.Ledger).EmailCount);
        Assert.Equal(3, _fake.Emails.Count);

        var tooMany = "[" + string.Join(',', Enumerable.Repeat("""{"from":"a@example.com","to":"b@example.com","subject":"s"}""", 101)) + "]";
        using var rejected = await Post("emails/batch", tooMany);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, rejected.StatusCode);
    }

    [Fact]
    public async Task Idempotency_key_replays_same_payload_and_rejects_another()
    {
        const string payload = """{"from":"a@example.com","to":"b@example.com","subject":"hi","text":"x"}""";
        using var first = await Post("emails", payload, "welcome/123");
        using var again = await Post("emails", payload, "welcome/123");
        Assert.Equal(await first.Content.ReadAsStringAsync(), await again.Content.ReadAsStringAsync());
        Assert.Single(_fake.Emails);
        Assert.True(_fake.Ledger[1].Replayed);
        Assert.Equal(_fake.Ledger[0].ObjectId, _fake.Ledger[1].ObjectId);

        using var different = await Post("emails", payload.Replace("hi", "bye", StringComparison.Ordinal), "welcome/123");
        Assert.Equal(HttpStatusCode.Conflict, different.StatusCode);
        using var doc = JsonDocument.Parse(await different.Content.ReadAsStringAsync());
        Assert.Equal("invalid_idempotent_request", doc.RootElement.GetProperty("name").GetString());
        Assert.Equal(409, doc.RootElement.GetProperty("statusCode").GetInt32());

        _fake.Options.ResponseDelay = TimeSpan.FromSeconds(2);
        var slow = Post("emails", payload, "other-key");
        await Eventually.True(() => _fake.Ledger.Count == 4); // the slow request is in flight
        using var concurrent = await Post("emails", payload, "other-key");
        Assert.Equal(HttpStatusCode.Conflict, concurrent.StatusCode);
        Assert.Contains("concurrent_idempotent_requests", await concurrent.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var slowResponse = await slow;
        Assert.Equal(HttpStatusCode.OK, slowResponse.StatusCode);
    }

    [Fact]
    public async Task Validation_and_auth_errors_use_resend_shape()
    {
        using var missingFrom = await Post("emails", """{"to":"b@example.com","subject":"hi"}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, missingFrom.StatusCode);
        using (var doc = JsonDocument.Parse(await missingFrom.Content.ReadAsStringAsync()))
        {
            Assert.Equal(422, doc.RootElement.GetProperty("statusCode").GetInt32());
            Assert.Equal("validation_error", doc.RootElement.GetProperty("name").GetString());
        }

        using var anonymous = new HttpClient { BaseAddress = _fake.BaseUrl };
        using var missingKey = await anonymous.PostAsync(new Uri("emails", UriKind.Relative), Json("{}"));
        Assert.Equal(HttpStatusCode.Unauthorized, missingKey.StatusCode);
        Assert.Contains("missing_api_key", await missingKey.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "re_wrong");
        using var invalidKey = await anonymous.PostAsync(new Uri("emails", UriKind.Relative), Json("{}"));
        Assert.Equal(HttpStatusCode.Forbidden, invalidKey.StatusCode);
        Assert.Contains("invalid_api_key", await invalidKey.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        _fake.Options.FailWithStatus = 429;
        using var limited = await Post("emails", """{"from":"a@example.com","to":"b@example.com","subject":"hi"}""");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("1", limited.Headers.GetValues("retry-after").Single());
        Assert.Empty(_fake.Emails);
    }

    private Task<HttpResponseMessage> Post(string path, string json, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)) { Content = Json(json) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return _http.SendAsync(request);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
