using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Proxy;

/// <summary>The agent API: <c>ANY /proxy/{vendor}/{*path}</c>, authenticated by the vault key.</summary>
public sealed class ProxyFunction(ProxyPipeline pipeline)
{
    [Function("Proxy")]
    public async Task<IActionResult> RunAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", "post", "put", "patch", "delete", Route = "proxy/{vendor}/{*path}")] HttpRequest request,
        string vendor,
        CancellationToken cancellationToken)
    {
        // The pipeline streams the vendor's answer straight into the response.
        await pipeline.HandleAsync(request.HttpContext, vendor, cancellationToken);
        return new EmptyResult();
    }
}
