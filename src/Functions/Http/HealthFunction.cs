using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>An unauthenticated route: a liveness probe that reveals nothing.</summary>
public sealed class HealthFunction
{
    [Function("Health")]
    public static IActionResult Get([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health")] HttpRequest request) =>
        ApiJson.Result(new { status = "ok" });
}
