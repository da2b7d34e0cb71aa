using System.Text.Json;
using Keybrake.Domain.Operators;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>Who did what on the operator API: root sees every action, a tenant token the actions about its tenant.</summary>
public sealed class OperatorAuditFunctions(OperatorEndpoint endpoint, OperatorAuditService audit)
{
    [Function("QueryOperatorAudit")]
    public Task<IActionResult> QueryAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/operator-audit")] HttpRequest request,
        CancellationToken cancellationToken) =>
        endpoint.RunAsync(request, async caller =>
        {
            IReadOnlyList<OperatorAction> actions = await audit.QueryAsync(
                caller, QueryValues.Time(request, "since"), QueryValues.Time(request, "until"), OperatorEndpoint.QueryInt(request, "limit"), cancellationToken);
            return ApiJson.Result(new { actions = actions.Select(View) });
        }, cancellationToken);

    private static object View(OperatorAction a) => new
    {
        id = a.Id,
        ts = a.Timestamp.UtcDateTime,
        @operator = a.Operator,
        tenant = a.Tenant,
        method = a.Method,
        route = a.Route,
        target = a.Target,
        status = a.Status,
        outcome = a.Outcome,
        before = Parse(a.Before),
        after = Parse(a.After),
    };

    /// <summary>Before/after were stored as the API's own JSON; shown as JSON again (a cut-off value as its text).</summary>
    private static JsonElement? Parse(string? json)
    {
        if (json is null)
        {
            return null;
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(json);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonSerializer.SerializeToElement(json);
        }
    }
}
