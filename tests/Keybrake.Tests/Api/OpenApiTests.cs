using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Keybrake.DevHost;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Api;

/// <summary>
/// <c>GET /openapi.json</c> cannot drift: its paths and methods are exactly the registered HTTP functions, and
/// live answers of every operator route (successes and errors) validate against the schemas it documents.
/// </summary>
public sealed class OpenApiTests : IAsyncLifetime
{
    private ProxyHost _proxy = null!;
    private JsonElement _document;

    public async Task InitializeAsync()
    {
        _proxy = await ProxyHost.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = _proxy.Host.BaseAddress };
        HttpResponseMessage response = await anonymous.GetAsync("/openapi.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        _document = await Json.ReadAsync(response);
    }

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [Fact]
    public void PathsAndMethods_AreExactlyTheRegisteredHttpFunctions()
    {
        // The dashboard is a page for people, not an API operation.
        List<string> registered = DevHostApp.Functions
            .Where(f => f.Route is not null && !f.Route.StartsWith("dashboard", StringComparison.Ordinal))
            .SelectMany(f => f.Methods!.Select(m => m.ToLowerInvariant() + " /" + f.Route!.Replace("{*", "{", StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal)
            .ToList();
        List<string> documented = _document.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Where(o => o.Name != "parameters").Select(o => o.Name + " " + p.Name))
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.Equal(registered, documented);
        Assert.Equal("3.1.0", _document.Str("openapi"));
        Assert.All(_document.GetProperty("paths").EnumerateObject().SelectMany(p => p.Value.EnumerateObject().Where(o => o.Name != "parameters")),
            o => Assert.False(string.IsNullOrEmpty(o.Value.Str("operationId"))));
    }

    [Fact]
    public async Task LiveAnswers_OfEveryOperatorRoute_ValidateAgainstTheDocumentedSchemas()
    {
        using HttpClient root = _proxy.Host.Client();
        using HttpClient nobody = _proxy.Host.Client("not-a-token");

        JsonElement issued = await CheckAsync(root.PostAsJsonAsync("/v1/keys", new
        {
            label = "acme:billing-agent:checkout:run-1", vendor = "stripe", daily_usd_cap = 50, allowed_endpoints = new[] { "POST /v1/payment_intents" },
            expires_in = "1h", metadata = new Dictionary<string, string> { ["ticket"] = "T-1" }, loop_max_calls = 3, loop_window_seconds = 30,
        }), "/v1/keys", "post", 201);
        string id = issued.Str("id");
        await ChargeAsync(issued.Str("key"));

        await CheckAsync(root.GetAsync("/health"), "/health", "get", 200);
        await CheckAsync(root.GetAsync("/v1/keys?limit=5"), "/v1/keys", "get", 200);
        await CheckAsync(root.GetAsync($"/v1/keys/{id}"), "/v1/keys/{id}", "get", 200);
        await CheckAsync(root.GetAsync("/v1/keys/nope"), "/v1/keys/{id}", "get", 404);
        JsonElement token = await CheckAsync(root.PostAsJsonAsync("/v1/tokens", new { tenant = "acme", description = "ops" }), "/v1/tokens", "post", 201);
        await CheckAsync(root.GetAsync("/v1/tokens"), "/v1/tokens", "get", 200);
        await CheckAsync(root.PutAsJsonAsync("/v1/budgets/acme:", new { daily_usd = 30, monthly_usd = 500, alert_thresholds = new[] { 0.5 } }), "/v1/budgets/{labelPrefix}", "put", 200);
        await CheckAsync(root.PutAsJsonAsync("/v1/budgets/acme:", new { daily_usd = -1 }), "/v1/budgets/{labelPrefix}", "put", 400);
        await CheckAsync(root.GetAsync("/v1/budgets"), "/v1/budgets", "get", 200);
        await CheckAsync(root.PutAsJsonAsync("/v1/budgets/acme:run", new { daily_usd = 3 }), "/v1/budgets/{labelPrefix}", "put", 200);
        await CheckAsync(root.DeleteAsync("/v1/budgets/acme:run"), "/v1/budgets/{labelPrefix}", "delete", 200);
        await CheckAsync(root.DeleteAsync("/v1/budgets/acme:run"), "/v1/budgets/{labelPrefix}", "delete", 404);
        await CheckAsync(root.PutAsJsonAsync("/v1/tenants/acme", new { plan = "team" }), "/v1/tenants/{tenant}", "put", 200);
        await CheckAsync(root.PutAsJsonAsync("/v1/tenants/acme/billing", new { stripe_customer_id = "cus_123" }), "/v1/tenants/{tenant}/billing", "put", 200);
        await CheckAsync(root.GetAsync("/v1/tenants/acme/billing"), "/v1/tenants/{tenant}/billing", "get", 200);
        await CheckAsync(root.GetAsync("/v1/cap-policy"), "/v1/cap-policy", "get", 200);
        await CheckAsync(root.PutAsJsonAsync("/v1/cap-policy", new { minimum_usd = 2 }), "/v1/cap-policy", "put", 200);
        JsonElement audit = await CheckAsync(root.GetAsync("/v1/audit"), "/v1/audit", "get", 200);
        string auditId = audit.GetProperty("entries")[0].Str("id");
        await CheckAsync(root.PostAsJsonAsync($"/v1/audit/acme/{auditId}/resolve", new { charged = false }), "/v1/audit/{tenant}/{auditId}/resolve", "post", 409);
        await CheckAsync(root.GetAsync("/v1/spend?group_by=agent_type,vendor"), "/v1/spend", "get", 200);
        await CheckAsync(root.GetAsync("/v1/spend?group_by=colour"), "/v1/spend", "get", 400);
        await CheckAsync(root.PostAsync("/v1/rollups/2026-11-01", null), "/v1/rollups/{date}", "post", 200);
        await CheckAsync(root.GetAsync("/v1/rollups?date=2026-11-02"), "/v1/rollups", "get", 200);
        await CheckAsync(root.GetAsync("/v1/consistency?date=2026-11-02"), "/v1/consistency", "get", 200);
        await CheckAsync(root.GetAsync("/v1/consistency?date=today"), "/v1/consistency", "get", 400);
        await CheckAsync(root.PostAsJsonAsync("/v1/maintenance/backfill", new { days = 2 }), "/v1/maintenance/backfill", "post", 202);
        await CheckAsync(root.PostAsJsonAsync("/v1/maintenance/backfill", new { days = 0 }), "/v1/maintenance/backfill", "post", 400);
        await CheckAsync(root.GetAsync("/v1/exports?date=2026-11-01"), "/v1/exports", "get", 200);
        await CheckAsync(root.GetAsync("/v1/alerts"), "/v1/alerts", "get", 200);
        await CheckAsync(root.PostAsJsonAsync("/v1/keys/revoke", new { label_prefix = "acme:billing-agent:checkout:run-1" }), "/v1/keys/revoke", "post", 200);
        await CheckAsync(root.DeleteAsync($"/v1/keys/{id}"), "/v1/keys/{id}", "delete", 200);
        await CheckAsync(nobody.GetAsync("/v1/keys"), "/v1/keys", "get", 401);
        await CheckAsync(root.GetAsync("/v1/operator-audit"), "/v1/operator-audit", "get", 200);
        await CheckAsync(root.GetAsync("/v1/operator-audit?limit=0"), "/v1/operator-audit", "get", 400);
        await CheckAsync(root.DeleteAsync("/v1/tokens/" + token.Str("id")), "/v1/tokens/{id}", "delete", 200);
        await CheckAsync(root.DeleteAsync("/v1/tokens/tok_nope"), "/v1/tokens/{id}", "delete", 404);
        using HttpClient acme = _proxy.Host.Client(await _proxy.Host.IssueTenantTokenAsync("acme"));
        await CheckAsync(acme.PutAsJsonAsync("/v1/cap-policy", new { minimum_usd = 3 }), "/v1/cap-policy", "put", 403);
        await CheckAsync(acme.GetAsync("/v1/consistency?date=2026-11-02"), "/v1/consistency", "get", 403);
        await CheckAsync(acme.PostAsJsonAsync("/v1/maintenance/backfill", new { }), "/v1/maintenance/backfill", "post", 403);
    }

    [Fact]
    public void TheValidator_RejectsAnswersThatDrift()
    {
        JsonElement schema = Schema("/v1/budgets", "get", 200);
        Assert.Empty(Validate(JsonDocument.Parse("""{"budgets":[]}""").RootElement, schema, "$"));
        Assert.NotEmpty(Validate(JsonDocument.Parse("""{"budgets":[],"extra":1}""").RootElement, schema, "$"));
        Assert.NotEmpty(Validate(JsonDocument.Parse("""{"budgets":[{"label_prefix":"a","daily_usd":"5","monthly_usd":null,"alert_thresholds":[],"updated_at":"x"}]}""").RootElement, schema, "$"));
        Assert.NotEmpty(Validate(JsonDocument.Parse("""{}""").RootElement, schema, "$"));
    }

    private async Task ChargeAsync(string vaultKey)
    {
        using var agent = new HttpClient { BaseAddress = _proxy.ProxyBase("stripe") };
        agent.DefaultRequestHeaders.Authorization = new("Bearer", vaultKey);
        HttpResponseMessage response = await agent.PostAsync("v1/payment_intents", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["amount"] = "1250", ["currency"] = "usd", ["confirm"] = "true", ["payment_method"] = "pm_card_visa",
        }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("X-Keybrake-Audit-Id", _document.GetProperty("paths").GetProperty("/proxy/{vendor}/{path}").GetProperty("post")
            .GetProperty("responses").GetProperty("default").GetProperty("headers").EnumerateObject().Select(h => h.Name));
        Assert.True(response.Headers.Contains("X-Keybrake-Audit-Id"));
    }

    /// <summary>Checks the status is documented for the operation and the body validates against its schema.</summary>
    private async Task<JsonElement> CheckAsync(Task<HttpResponseMessage> call, string path, string method, int status)
    {
        HttpResponseMessage response = await call;
        JsonElement body = await Json.ReadAsync(response);
        Assert.True((int)response.StatusCode == status, $"{method} {path}: expected {status}, got {(int)response.StatusCode} {body}");
        List<string> errors = Validate(body, Schema(path, method, status), "$");
        Assert.True(errors.Count == 0, $"{method} {path} {status} does not match openapi.json:\n{string.Join('\n', errors)}\n{body}");
        return body;
    }

    private JsonElement Schema(string path, string method, int status)
    {
        JsonElement responses = _document.GetProperty("paths").GetProperty(path).GetProperty(method).GetProperty("responses");
        Assert.True(responses.TryGetProperty(status.ToString(System.Globalization.CultureInfo.InvariantCulture), out JsonElement response), $"{method} {path} does not document {status}");
        return response.GetProperty("content").GetProperty("application/json").GetProperty("schema");
    }

    /// <summary>The subset of JSON Schema the document uses: $ref, type (or a list of types), properties, required, additionalProperties, items, enum, format date-time.</summary>
    private List<string> Validate(JsonElement value, JsonElement schema, string at)
    {
        if (schema.TryGetProperty("$ref", out JsonElement reference))
        {
            return Validate(value, _document.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!.Split('/')[^1]), at);
        }

        var errors = new List<string>();
        if (schema.TryGetProperty("type", out JsonElement type))
        {
            string[] allowed = type.ValueKind == JsonValueKind.Array ? [.. type.EnumerateArray().Select(t => t.GetString()!)] : [type.GetString()!];
            string actual = value.ValueKind switch
            {
                JsonValueKind.Object => "object",
                JsonValueKind.Array => "array",
                JsonValueKind.String => "string",
                JsonValueKind.Number => value.TryGetInt64(out _) && allowed.Contains("integer") ? "integer" : "number",
                JsonValueKind.True or JsonValueKind.False => "boolean",
                _ => "null",
            };
            if (!allowed.Contains(actual) && !(actual == "integer" && allowed.Contains("number")))
            {
                return [$"{at}: {actual}, documented as {string.Join(" or ", allowed)}"];
            }
        }

        if (schema.TryGetProperty("enum", out JsonElement values) && value.ValueKind == JsonValueKind.String
            && !values.EnumerateArray().Any(v => v.GetString() == value.GetString()))
        {
            errors.Add($"{at}: '{value.GetString()}' is not one of the documented values");
        }

        // One time format on the whole API: UTC with Z (an offset form such as +00:00 is drift).
        if (schema.TryGetProperty("format", out JsonElement format) && format.GetString() == "date-time" && value.ValueKind == JsonValueKind.String
            && !System.Text.RegularExpressions.Regex.IsMatch(value.GetString()!, @"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"))
        {
            errors.Add($"{at}: '{value.GetString()}' is not an ISO-8601 UTC time ending in Z");
        }

        if (value.ValueKind == JsonValueKind.Object && schema.TryGetProperty("properties", out JsonElement properties))
        {
            foreach (JsonProperty property in value.EnumerateObject())
            {
                if (properties.TryGetProperty(property.Name, out JsonElement propertySchema))
                {
                    errors.AddRange(Validate(property.Value, propertySchema, at + "." + property.Name));
                }
                else if (schema.TryGetProperty("additionalProperties", out JsonElement additional) && additional.ValueKind == JsonValueKind.False)
                {
                    errors.Add($"{at}.{property.Name}: not documented");
                }
            }

            if (schema.TryGetProperty("required", out JsonElement required))
            {
                errors.AddRange(required.EnumerateArray().Where(r => !value.TryGetProperty(r.GetString()!, out _)).Select(r => $"{at}.{r.GetString()}: documented as required, missing"));
            }
        }

        if (value.ValueKind == JsonValueKind.Object && schema.TryGetProperty("additionalProperties", out JsonElement map) && map.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty property in value.EnumerateObject())
            {
                errors.AddRange(Validate(property.Value, map, at + "." + property.Name));
            }
        }

        if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("items", out JsonElement items))
        {
            int i = 0;
            foreach (JsonElement item in value.EnumerateArray())
            {
                errors.AddRange(Validate(item, items, $"{at}[{i++}]"));
            }
        }

        return errors;
    }
}
