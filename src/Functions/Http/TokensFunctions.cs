using Keybrake.Domain.Operators;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>Tenant-scoped operator tokens: root issues, lists (never the secret) and revokes them.</summary>
public sealed class TokensFunctions(OperatorEndpoint endpoint, OperatorTokenService tokens, TimeProvider time)
{
    private static readonly string[] IssueFields = ["tenant", "description", "expires_in"];

    [Function("IssueOperatorToken")]
    public Task<IActionResult> IssueAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v1/tokens")] HttpRequest request,
        CancellationToken cancellationToken) =>
        endpoint.RunWriteAsync(request, async caller =>
        {
            caller.EnsureRoot();
            JsonBody body = await JsonBody.ReadAsync(request, IssueFields, cancellationToken);
            IssuedOperatorToken issued = await tokens.IssueAsync(
                caller, body.RequiredString("tenant"), body.OptionalString("description"), body.OptionalString("expires_in"), cancellationToken);
            object view = View(issued.Token);
            return new OperatorWrite(
                ApiJson.Result(
                    new
                    {
                        id = issued.Token.Id,
                        token = issued.Secret,
                        tenant = issued.Token.Tenant,
                        description = issued.Token.Description,
                        created_at = issued.Token.CreatedAt.UtcDateTime,
                        expires_at = issued.Token.ExpiresAt?.UtcDateTime,
                    },
                    StatusCodes.Status201Created),
                issued.Token.Id, issued.Token.Tenant, After: view);
        }, cancellationToken);

    [Function("ListOperatorTokens")]
    public Task<IActionResult> ListAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/tokens")] HttpRequest request,
        CancellationToken cancellationToken) =>
        endpoint.RunAsync(request, async caller =>
            ApiJson.Result(new { tokens = (await tokens.ListAsync(caller, cancellationToken)).Select(View) }), cancellationToken);

    [Function("RevokeOperatorToken")]
    public Task<IActionResult> RevokeAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "v1/tokens/{id}")] HttpRequest request,
        string id,
        CancellationToken cancellationToken) =>
        endpoint.RunWriteAsync(request, async caller =>
        {
            (OperatorToken before, OperatorToken after) = await tokens.RevokeAsync(caller, id, cancellationToken);
            object view = View(after);
            return new OperatorWrite(ApiJson.Result(view), after.Id, after.Tenant, View(before), view);
        }, cancellationToken);

    /// <summary>A token as listed: everything but its hash and secret.</summary>
    private object View(OperatorToken token) => new
    {
        id = token.Id,
        tenant = token.Tenant,
        description = token.Description,
        created_at = token.CreatedAt.UtcDateTime,
        expires_at = token.ExpiresAt?.UtcDateTime,
        revoked_at = token.RevokedAt?.UtcDateTime,
        status = token.RevokedAt is not null ? "revoked" : token.IsValidAt(time.GetUtcNow()) ? "active" : "expired",
        issued_by = token.IssuedBy,
        revoked_by = token.RevokedBy,
    };
}
