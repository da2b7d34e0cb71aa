using Keybrake.Functions.Dashboard;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>
/// Serves the dashboard's static files. Anonymous because the files hold no data: the page asks the operator
/// for a token and reads everything from the operator API with it.
/// </summary>
public sealed class DashboardFunction
{
    [Function("Dashboard")]
    public static IActionResult Get(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "dashboard/{*path}")] HttpRequest request,
        string? path) =>
        new DashboardResult(DashboardAssets.Find(path));

    private sealed class DashboardResult(DashboardAsset? asset) : IActionResult
    {
        public async Task ExecuteResultAsync(ActionContext context)
        {
            HttpRequest request = context.HttpContext.Request;
            HttpResponse response = context.HttpContext.Response;

            // Scripts and styles from this origin only (no inline code), API calls to this origin only, never framed,
            // and the token-bearing page leaks nothing through Referer.
            response.Headers.ContentSecurityPolicy =
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
                "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
            response.Headers.XContentTypeOptions = "nosniff";
            response.Headers.XFrameOptions = "DENY";
            response.Headers["Referrer-Policy"] = "no-referrer";
            response.Headers["Cross-Origin-Opener-Policy"] = "same-origin";

            if (asset is null)
            {
                response.StatusCode = StatusCodes.Status404NotFound;
                response.ContentType = "text/plain; charset=utf-8";
                await response.WriteAsync("Not found.", context.HttpContext.RequestAborted);
                return;
            }

            // Revalidated on every load so a deployment shows at once; unchanged files cost a 304.
            response.Headers.CacheControl = "no-cache";
            response.Headers.ETag = asset.ETag;
            if (request.Headers.IfNoneMatch.Contains(asset.ETag))
            {
                response.StatusCode = StatusCodes.Status304NotModified;
                return;
            }

            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = asset.ContentType;
            response.ContentLength = asset.Content.Length;
            await response.Body.WriteAsync(asset.Content, context.HttpContext.RequestAborted);
        }
    }
}
