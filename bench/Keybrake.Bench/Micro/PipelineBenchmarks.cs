using System.Net;
using System.Text;
using BenchmarkDotNet.Attributes;
using Keybrake.DevHost;
using Keybrake.Domain.Keys;
using Keybrake.Functions.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Keybrake.Bench.Micro;

/// <summary>
/// One whole proxied call through <see cref="ProxyPipeline.HandleAsync"/> as the macro benchmark's scenario 3 makes it
/// (a $0.01 <c>POST /v1/payment_intents</c> with confirm, on the in-memory stores) but without Kestrel, sockets or the
/// fake Stripe: the request is a <see cref="DefaultHttpContext"/> and the vendor client's handler answers in process
/// with a recorded payment intent. What it allocates per call is the pipeline's own, which the memory diagnoser counts.
/// </summary>
[MemoryDiagnoser]
public class PipelineBenchmarks
{
    private const string Form = "amount=1&currency=usd&confirm=true&payment_method=pm_card_visa&metadata%5Border%5D=order-";

    private WebApplication _app = null!;
    private ProxyPipeline _pipeline = null!;
    private string _authorization = null!;
    private int _order;

    [GlobalSetup]
    public void Setup()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Vendors:stripe:BaseUrl"] = "http://stripe.bench",
            ["Secrets:stripe-secret-key"] = "sk_test_" + new string('b', 24),
            ["Secrets:keybrake-root-token"] = "kbr_root_" + new string('r', 40),
            ["Tables:ConnectionString"] = "UseDevelopmentStorage=true",
            ["DevHost:RunTimers"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        _app = DevHostApp.Build(["--urls", "http://127.0.0.1:0"], localSettingsPath: null, settings, services =>
        {
            InMemoryStores.Replace(services);
            services.AddHttpClient("keybrake-vendor-stripe").ConfigurePrimaryHttpMessageHandler(() => new RecordedStripe());
        });
        _pipeline = _app.Services.GetRequiredService<ProxyPipeline>();

        (string id, string secret) = VaultKeySecret.Create("acme");
        var key = new VaultKey
        {
            Id = id,
            Tenant = "acme",
            Label = "acme:billing-agent:checkout:run-1",
            Vendor = "stripe",
            DailyCapMicros = long.MaxValue / 4,
            AllowedEndpoints = ["POST /v1/payment_intents"],
            CreatedAt = DateTimeOffset.UnixEpoch,
            ExpiresAt = DateTimeOffset.MaxValue,
            SecretHash = VaultKeySecret.Hash(secret),
        };
        _app.Services.GetRequiredService<IVaultKeyStore>().CreateAsync(key, CancellationToken.None).GetAwaiter().GetResult();
        _authorization = "Bearer " + secret;
    }

    [GlobalCleanup]
    public void Cleanup() => _app.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark]
    public async Task<int> ProxiedStripeCharge()
    {
        // A distinct order id per call, as the macro benchmark sends, so the loop breaker never sees two identical calls.
        byte[] form = Encoding.ASCII.GetBytes(Form + Interlocked.Increment(ref _order).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var context = new DefaultHttpContext();
        HttpRequest request = context.Request;
        request.Method = "POST";
        request.Path = "/proxy/stripe/v1/payment_intents";
        request.ContentType = "application/x-www-form-urlencoded";
        request.ContentLength = form.Length;
        request.Headers.Authorization = _authorization;
        request.Body = new MemoryStream(form, writable: false);
        context.Response.Body = Stream.Null;
        await _pipeline.HandleAsync(context, "stripe", CancellationToken.None);
        return context.Response.StatusCode == 200 ? 200 : throw new InvalidOperationException($"The proxied call answered {context.Response.StatusCode}.");
    }

    /// <summary>Stripe's answer to a confirmed $0.01 payment intent, every time, without a socket.</summary>
    private sealed class RecordedStripe : HttpMessageHandler
    {
        private static readonly byte[] Answer = Encoding.UTF8.GetBytes(Fixtures.StripePaymentIntent.Replace("2000", "1", StringComparison.Ordinal));

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Content is not null)
            {
                await request.Content.CopyToAsync(Stream.Null, cancellationToken);
            }

            var response = new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request, Content = new ByteArrayContent(Answer) };
            response.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            response.Headers.TryAddWithoutValidation("Request-Id", "req_bench");
            return response;
        }
    }
}
