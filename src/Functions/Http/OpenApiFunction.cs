using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>
/// The API's OpenAPI 3.1 document, kept in <c>OpenApi/openapi.json</c> and embedded in the build; a test checks
/// it against the registered routes and validates live answers against its schemas, so it cannot drift.
/// </summary>
public sealed class OpenApiFunction
{
    private static readonly Lazy<byte[]> Document = new(() =>
    {
        using Stream stream = typeof(OpenApiFunction).Assembly.GetManifestResourceStream("Keybrake.openapi.json")
            ?? throw new InvalidOperationException("The OpenAPI document is not embedded in the build.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    [Function("OpenApi")]
    public static IActionResult Get([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "openapi.json")] HttpRequest request) =>
        new FileContentResult(Document.Value, "application/json");
}
