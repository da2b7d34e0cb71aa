using Keybrake.Functions.Dashboard;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Net.Http.Headers;

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
        string? path)
    {
        IHeaderDictionary headers = request.HttpContext.Response.Headers;

        // Scripts and styles from this origin only (no inline code), API calls to this origin only, never framed,
        // and the token-bearing page leaks nothing through Referer.
        headers.ContentSecurityPolicy =
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";

        DashboardAsset? asset = DashboardAssets.Find(path);
        if (asset is null)
        {
            return new ContentResult { Content = "Not found.", ContentType = "text/plain; charset=utf-8", StatusCode = StatusCodes.Status404NotFound };
        }

        // Revalidated on every load so a deployment shows at once; unchanged files cost a 304 (the stock file
        // result answers If-None-Match against the entity tag).
        headers.CacheControl = "no-cache";
        return new FileContentResult(asset.Content, asset.ContentType) { EntityTag = EntityTagHeaderValue.Parse(asset.ETag) };
    }
}
