using Keybrake.Functions.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Proxy;

/// <summary>
/// The Stripe paths no operator route declares (<c>/v1/payment_intents</c>, <c>/v1/refunds</c>, …), for SDKs
/// pointed at the app's root. Operator routes under <c>/v1</c> hand Stripe calls over themselves
/// (<see cref="OperatorEndpoint"/>), so the credential decides the same way whichever route matched.
/// </summary>
public sealed class StripeHostFunction(StripeHostSurface stripe)
{
    /// <summary>
    /// The Functions host tries HTTP routes in the order of their function names (ordinal, ignoring case) and
    /// takes the first that matches; it does not prefer literal routes to catch-alls. So this catch-all must
    /// sort after every operator function, or it would take their requests: hence the name. A test holds it.
    /// </summary>
    public const string CatchAllName = "ZzStripeHost";

    [Function(CatchAllName)]
    public async Task<IActionResult> RunAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", "post", "put", "patch", "delete", Route = "v1/{*path}")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        if (!stripe.Claims(request))
        {
            // Not a Stripe call, and no operator route has this path: the operator API's own 404.
            return ApiErrors.Error(StatusCodes.Status404NotFound, "not_found",
                "No such operator route (see /openapi.json). A Stripe call at this host needs a vault key (kbk_…) as its API key.");
        }

        await stripe.ForwardAsync(request.HttpContext, cancellationToken);
        return new EmptyResult();
    }
}
