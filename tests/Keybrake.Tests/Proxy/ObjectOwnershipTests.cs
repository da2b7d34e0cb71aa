using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using Keybrake.Sandbox;
using Keybrake.Tests.Support;

namespace Keybrake.Tests.Proxy;

/// <summary>
/// Issue #20 §1: three tenants on one fake Stripe account, one fake Twilio and one fake Resend (no
/// <c>{secret}--{tenant}</c> overrides). No tenant reads, lists, refunds, captures, cancels or updates
/// another's objects through any operation its key allows; each tenant's own flows still work. Two of
/// the tenants' names prefix each other (<c>acme</c>/<c>acme2</c>).
/// </summary>
public sealed class ObjectOwnershipTests : IAsyncLifetime
{
    private static readonly string[] Tenants = ["acme", "acme2", "globex"];

    private ProxyHost _proxy = null!;

    public async Task InitializeAsync() => _proxy = await ProxyHost.StartAsync();

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    private FakeStripe Stripe => _proxy.Vendors.Stripe;

    [Fact]
    public async Task Stripe_SharedAccount_NoTenantTouchesAnothersObjects_OwnFlowsWork()
    {
        var own = new Dictionary<string, (string Pi, string Charge, string Open, string Refund, string Customer)>();
        var everything = new Dictionary<string, HttpClient>();
        foreach (string tenant in Tenants)
        {
            HttpClient billing = await StripeKeyAsync($"{tenant}:billing-agent:checkout:run-1", "POST /v1/payment_intents", "POST /v1/customers");
            HttpClient refunds = await StripeKeyAsync($"{tenant}:support-agent:refunds:run-1", "POST /v1/refunds");
            everything[tenant] = await StripeKeyAsync($"{tenant}:ops-agent:all:run-1", "/v1/**");

            JsonElement pi = await OkAsync(billing, "/v1/payment_intents", "amount=2000&currency=usd&confirm=true&payment_method=pm_card_visa");
            JsonElement open = await OkAsync(billing, "/v1/payment_intents", "amount=500&currency=usd");
            JsonElement customer = await OkAsync(billing, "/v1/customers", "email=" + tenant + "%40example.com");

            // Charged with one key, refunded with another key of the same tenant.
            JsonElement refund = await OkAsync(refunds, "/v1/refunds", "payment_intent=" + pi.Str("id") + "&amount=100");
            own[tenant] = (pi.Str("id"), pi.Str("latest_charge"), open.Str("id"), refund.Str("id"), customer.Str("id"));
        }

        // Platform-created objects (outside the proxy) are owned by their metadata.
        string platformCustomer = await PlatformCustomerAsync("acme");
        await OkAsync(everything["acme"], "/v1/payment_intents", $"amount=300&currency=usd&customer={platformCustomer}");
        await OkAsync(everything["acme"], "/v1/customers/" + platformCustomer, null);

        int writesBefore = Stripe.Ledger.Count(e => e.Method != "GET");
        foreach (string attacker in Tenants)
        {
            HttpClient client = everything[attacker];
            foreach (string victim in Tenants.Where(t => t != attacker))
            {
                (string pi, string charge, string open, string refund, string customer) = own[victim];
                (HttpMethod, string, string?)[] attempts =
                [
                    (HttpMethod.Get, "/v1/payment_intents/" + pi, null),
                    (HttpMethod.Get, "/v1/charges/" + charge, null),
                    (HttpMethod.Get, "/v1/refunds/" + refund, null),
                    (HttpMethod.Get, "/v1/customers/" + customer, null),
                    (HttpMethod.Post, "/v1/refunds", "payment_intent=" + pi),
                    (HttpMethod.Post, "/v1/refunds", "charge=" + charge),
                    (HttpMethod.Post, "/v1/refunds", "amount=1&charge=" + own[attacker].Charge + "&charge=" + charge),
                    (HttpMethod.Post, "/v1/payment_intents/" + open, "description=mine"),
                    (HttpMethod.Post, "/v1/payment_intents/" + open + "/cancel", string.Empty),
                    (HttpMethod.Post, "/v1/payment_intents/" + open + "/capture", string.Empty),
                    (HttpMethod.Post, "/v1/payment_intents/" + open + "/confirm", "payment_method=pm_card_visa"),
                    (HttpMethod.Post, "/v1/payment_intents", "amount=100&currency=usd&customer=" + customer),
                    (HttpMethod.Get, "/v1/refunds/" + refund + "?expand[]=charge", null),
                    (HttpMethod.Get, "/v1/payment_intents/search?query=metadata['keybrake_tenant']:'" + victim + "'&payment_intent=" + pi, null),
                ];
                foreach ((HttpMethod method, string path, string? form) in attempts)
                {
                    HttpResponseMessage response = await SendAsync(client, method, path, form);
                    string body = await response.Content.ReadAsStringAsync();
                    Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{attacker} → {victim}: {method} {path} {form} gave {(int)response.StatusCode} {body}");
                    Assert.Equal("keybrake_foreign_object", JsonDocument.Parse(body).RootElement.GetProperty("error").Str("code"));
                }
            }

            // Only acme's metadata names acme: neither acme2 (a prefix match would pass) nor globex may use it.
            if (attacker != "acme")
            {
                Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(client, HttpMethod.Get, "/v1/customers/" + platformCustomer, null)).StatusCode);
                Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(client, HttpMethod.Post, "/v1/payment_intents", "amount=1&currency=usd&customer=" + platformCustomer)).StatusCode);
            }

            // The owner tag is the proxy's: an agent cannot set, move or clear it.
            Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(client, HttpMethod.Post, "/v1/payment_intents/" + own[attacker].Open, "metadata[keybrake_tenant]=" + attacker)).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(client, HttpMethod.Post, "/v1/payment_intents/" + own[attacker].Open, "metadata=")).StatusCode);
        }

        // Nothing was forwarded that could change a foreign object: only owner look-ups (GETs) reached Stripe.
        Assert.Equal(writesBefore, Stripe.Ledger.Count(e => e.Method != "GET"));

        foreach (string tenant in Tenants)
        {
            HttpClient client = everything[tenant];
            (string pi, string charge, string open, string refund, string customer) = own[tenant];

            // Lists show the tenant's own objects, all of them, and nobody else's.
            JsonElement list = await OkAsync(client, "/v1/payment_intents?limit=100", null, HttpMethod.Get);
            string[] listed = [.. list.GetProperty("data").EnumerateArray().Select(e => e.Str("id"))];
            Assert.Contains(pi, listed);
            Assert.Contains(open, listed);
            Assert.All(list.GetProperty("data").EnumerateArray(), e => Assert.Equal(tenant, e.GetProperty("metadata").Str("keybrake_tenant")));
            JsonElement customers = await OkAsync(client, "/v1/customers", null, HttpMethod.Get);
            string[] customerIds = [.. customers.GetProperty("data").EnumerateArray().Select(e => e.Str("id"))];
            Assert.Contains(customer, customerIds);
            Assert.Equal(tenant == "acme" ? 2 : 1, customerIds.Length);

            // Paging: the vendor's has_more survives filtering, and starting_after from an own item goes on past it.
            JsonElement first = await OkAsync(client, "/v1/payment_intents?limit=1", null, HttpMethod.Get);
            Assert.True(first.GetProperty("has_more").GetBoolean());
            JsonElement after = await OkAsync(client, "/v1/payment_intents?limit=100&starting_after=" + open, null, HttpMethod.Get);
            Assert.Equal([pi], after.GetProperty("data").EnumerateArray().Select(e => e.Str("id")));

            // Own objects: read, update, cancel, refund by charge.
            await OkAsync(client, "/v1/payment_intents/" + pi, null, HttpMethod.Get);
            await OkAsync(client, "/v1/charges/" + charge, null, HttpMethod.Get);
            await OkAsync(client, "/v1/refunds/" + refund, null, HttpMethod.Get);
            await OkAsync(client, "/v1/payment_intents/" + open, "description=ours");
            Assert.Equal("canceled", (await OkAsync(client, "/v1/payment_intents/" + open + "/cancel", string.Empty)).Str("status"));
            await OkAsync(client, "/v1/refunds", "charge=" + charge + "&amount=100");
        }

        // Denials are audited as such, with the reason.
        List<TableEntity> rows = await _proxy.AuditRowsAsync();
        Assert.Contains(rows, r => r.GetString("Outcome") == "denied" && r.GetString("Reason") == "foreign_object" && r.GetString("Tenant") == "acme2");
    }

    [Fact]
    public async Task Stripe_OwnerLearnedFromMetadata_OnAnInstanceThatDidNotCreateIt()
    {
        HttpClient acme = await StripeKeyAsync("acme:billing-agent:checkout:run-1", "/v1/**");
        HttpClient acme2 = await StripeKeyAsync("acme2:billing-agent:checkout:run-1", "/v1/**");
        string created = await PlatformIntentAsync("acme");
        int lookups = Stripe.Ledger.Count(e => e.Method == "GET" && e.Path == "/v1/payment_intents/" + created);

        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(acme2, HttpMethod.Get, "/v1/payment_intents/" + created, null)).StatusCode);
        await OkAsync(acme, "/v1/payment_intents/" + created, null, HttpMethod.Get);
        await OkAsync(acme, "/v1/payment_intents/" + created, null, HttpMethod.Get);

        // One look-up for the owner, then the cache: the two reads forwarded plus one look-up.
        Assert.Equal(lookups + 1 + 2, Stripe.Ledger.Count(e => e.Method == "GET" && e.Path == "/v1/payment_intents/" + created));

        // An object nobody owns is refused too (the same answer as a foreign one: no probing).
        string unowned = await PlatformIntentAsync(null);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(acme, HttpMethod.Get, "/v1/payment_intents/" + unowned, null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(acme, HttpMethod.Get, "/v1/payment_intents/pi_doesnotexist", null)).StatusCode);
    }

    [Fact]
    public async Task StripeAccountHeader_RefusedUnlessTheKeyIsBound_ThenSetByTheProxy()
    {
        HttpClient unbound = await StripeKeyAsync("acme:billing-agent:checkout:run-1", "POST /v1/payment_intents");
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/payment_intents") { Content = Form("amount=100&currency=usd") };
        request.Headers.Add("Stripe-Account", "acct_1Victim");
        HttpResponseMessage refused = await unbound.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("keybrake_vendor_account_not_allowed", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain(Stripe.Ledger, e => e.Method == "POST");

        using HttpClient root = _proxy.Host.Client();
        HttpResponseMessage issued = await root.PostAsJsonAsync("/v1/keys", new
        {
            label = "acme:billing-agent:connect:run-1",
            vendor = "stripe",
            daily_usd_cap = 50,
            allowed_endpoints = new[] { "POST /v1/payment_intents" },
            expires_in = "1h",
            vendor_account = "acct_1Acme",
        });
        JsonElement key = await Json.ReadAsync(issued);
        Assert.Equal(HttpStatusCode.Created, issued.StatusCode);
        Assert.Equal("acct_1Acme", key.Str("vendor_account"));
        HttpClient bound = Client("stripe", key.Str("key"));

        await OkAsync(bound, "/v1/payment_intents", "amount=100&currency=usd");
        Assert.Equal("acct_1Acme", Stripe.Ledger.Last(e => e.Method == "POST").Headers["Stripe-Account"]);

        using var other = new HttpRequestMessage(HttpMethod.Post, "v1/payment_intents") { Content = Form("amount=100&currency=usd") };
        other.Headers.Add("Stripe-Account", "acct_1Victim");
        Assert.Equal(HttpStatusCode.Forbidden, (await bound.SendAsync(other)).StatusCode);

        HttpResponseMessage twilioBound = await root.PostAsJsonAsync("/v1/keys", new
        {
            label = "acme:notify-agent:sms:run-1", vendor = "twilio", daily_usd_cap = 5, allowed_endpoints = new[] { "/**" }, expires_in = "1h", vendor_account = "acct_1Acme",
        });
        Assert.Equal(HttpStatusCode.BadRequest, twilioBound.StatusCode);
    }

    [Fact]
    public async Task Twilio_SharedAccount_MessagesAreTheSendersTenants()
    {
        FakeTwilio fake = _proxy.Vendors.Twilio;
        var sids = new Dictionary<string, string>();
        var clients = new Dictionary<string, HttpClient>();
        foreach (string tenant in Tenants)
        {
            JsonElement key = await _proxy.IssueKeyAsync($"{tenant}:notify-agent:sms:run-1", "twilio", "/2010-04-01/Accounts/**");
            clients[tenant] = Client("twilio", key.Str("key"));
            JsonElement message = await OkAsync(clients[tenant], "/2010-04-01/Accounts/ACagent/Messages.json", "To=%2B15145535858&From=%2B15149002890&Body=hi");
            sids[tenant] = message.Str("sid");
        }

        foreach (string tenant in Tenants)
        {
            HttpClient client = clients[tenant];
            JsonElement fetched = await OkAsync(client, $"/2010-04-01/Accounts/ACagent/Messages/{sids[tenant]}.json", null, HttpMethod.Get);
            Assert.Equal(sids[tenant], fetched.Str("sid"));
            foreach (string victim in Tenants.Where(t => t != tenant))
            {
                foreach (string path in new[] { $"Messages/{sids[victim]}.json", $"Messages/{sids[victim]}", $"Messages/{sids[victim]}/Media.json" })
                {
                    HttpResponseMessage response = await SendAsync(client, HttpMethod.Get, "/2010-04-01/Accounts/ACagent/" + path, null);
                    Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
                    Assert.Equal("foreign_object", (await Json.ReadAsync(response)).Str("keybrake_code"));
                }

                Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(client, HttpMethod.Post, $"/2010-04-01/Accounts/ACagent/Messages/{sids[victim]}.json", "Body=")).StatusCode);
            }

            // A list would show every tenant's messages and cannot be filtered without a read per message.
            Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(client, HttpMethod.Get, "/2010-04-01/Accounts/ACagent/Messages.json", null)).StatusCode);
        }

        Assert.Equal(3, fake.Ledger.Count(e => e.Method == "POST"));
    }

    [Fact]
    public async Task Resend_SharedAccount_EmailsAreTheSendersTenants()
    {
        var ids = new Dictionary<string, List<string>>();
        var clients = new Dictionary<string, HttpClient>();
        foreach (string tenant in Tenants)
        {
            JsonElement key = await _proxy.IssueKeyAsync($"{tenant}:notify-agent:receipts:run-1", "resend", "/emails/**", "/emails");
            clients[tenant] = Client("resend", key.Str("key"));
            JsonElement one = await OkJsonAsync(clients[tenant], "/emails", new { from = "a@example.com", to = "b@example.com", subject = "s", text = "t" });
            JsonElement batch = await OkJsonAsync(clients[tenant], "/emails/batch", new[] { new { from = "a@example.com", to = "c@example.com", subject = "s", text = "t" } });
            ids[tenant] = [one.Str("id"), batch.GetProperty("data")[0].Str("id")];
        }

        foreach (string tenant in Tenants)
        {
            HttpClient client = clients[tenant];
            foreach (string id in ids[tenant])
            {
                await OkAsync(client, "/emails/" + id, null, HttpMethod.Get);
            }

            foreach (string id in Tenants.Where(t => t != tenant).SelectMany(t => ids[t]))
            {
                HttpResponseMessage response = await SendAsync(client, HttpMethod.Get, "/emails/" + id, null);
                Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
                Assert.Equal("keybrake_foreign_object", (await Json.ReadAsync(response)).Str("name"));
                Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(client, HttpMethod.Post, "/emails/" + id + "/cancel", null)).StatusCode);
            }

            Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(client, HttpMethod.Get, "/emails", null)).StatusCode);
        }

        // The owners are in the table: a second host over the same tables (another instance, cold cache) agrees.
        await using KeybrakeHost second = await KeybrakeHost.StartAsync(
            new Dictionary<string, string?>(_proxy.Vendors.ProxyConfiguration()), tablePrefix: _proxy.Host.TablePrefix);
        JsonElement acmeKey = await second.IssueKeyAsync("acme:notify-agent:receipts:run-2", "resend", endpoints: ["/emails/*"]);
        using var coldAcme = new HttpClient { BaseAddress = new Uri(second.BaseAddress, "/proxy/resend/") };
        coldAcme.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", acmeKey.Str("key"));
        Assert.Equal(HttpStatusCode.OK, (await coldAcme.GetAsync("emails/" + ids["acme"][0])).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await coldAcme.GetAsync("emails/" + ids["acme2"][0])).StatusCode);
    }

    private async Task<HttpClient> StripeKeyAsync(string label, params string[] endpoints) =>
        Client("stripe", (await _proxy.IssueKeyAsync(label, "stripe", endpoints)).Str("key"));

    private HttpClient Client(string vendor, string key)
    {
        var client = new HttpClient { BaseAddress = _proxy.ProxyBase(vendor) };
        client.DefaultRequestHeaders.Authorization = vendor == "twilio"
            ? new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("ACagent:" + key)))
            : new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>The platform creates a customer directly at Stripe (not through the proxy), tagged for a tenant.</summary>
    private async Task<string> PlatformCustomerAsync(string tenant) =>
        (await PlatformAsync("v1/customers", "metadata[keybrake_tenant]=" + tenant)).Str("id");

    private async Task<string> PlatformIntentAsync(string? tenant) =>
        (await PlatformAsync("v1/payment_intents", "amount=700&currency=usd" + (tenant is null ? string.Empty : "&metadata[keybrake_tenant]=" + tenant))).Str("id");

    private async Task<JsonElement> PlatformAsync(string path, string form)
    {
        using var platform = new HttpClient { BaseAddress = Stripe.BaseUrl };
        platform.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Stripe.SecretKey);
        HttpResponseMessage response = await platform.PostAsync(path, Form(form));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await Json.ReadAsync(response);
    }

    private static StringContent Form(string form) => new(form, Encoding.UTF8, "application/x-www-form-urlencoded");

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, string? form)
    {
        var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (form is not null)
        {
            request.Content = Form(form);
        }

        return client.SendAsync(request);
    }

    private static async Task<JsonElement> OkAsync(HttpClient client, string path, string? form, HttpMethod? method = null)
    {
        HttpResponseMessage response = await SendAsync(client, method ?? (form is null ? HttpMethod.Get : HttpMethod.Post), path, form);
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {body}");
        return body;
    }

    private static async Task<JsonElement> OkJsonAsync(HttpClient client, string path, object json)
    {
        HttpResponseMessage response = await client.PostAsJsonAsync(path.TrimStart('/'), json);
        JsonElement body = await Json.ReadAsync(response);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {body}");
        return body;
    }
}
