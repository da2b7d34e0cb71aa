using Keybrake.Domain.Operators;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>Tenant-scoped operator tokens, issued by root.</summary>
public sealed class TokensFunctions(OperatorEndpoint endpoint, OperatorTokenService tokens)
{
    private static readonly string[] IssueFields = ["tenant", "description", "expires_in"];

    [Function("IssueOperatorToken")]
    public Task<IActionResult> IssueAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v1/tokens")] HttpRequest request,
        CancellationToken cancellationToken) =>
        endpoint.RunAsync(request, async caller =>
        {
            caller.EnsureRoot();
            JsonBody body = await JsonBody.ReadAsync(request, IssueFields, cancellationToken);
            IssuedOperatorToken issued = await tokens.IssueAsync(
                caller, body.RequiredString("tenant"), body.OptionalString("description"), body.OptionalString("expires_in"), cancellationToken);
            return new ApiJsonResult(
                new
                {
                    id = issued.Token.Id,
                    token = issued.Secret,
                    tenant = issued.Token.Tenant,
                    description = issued.Token.Description,
                    created_at = issued.Token.CreatedAt.UtcDateTime,
                    expires_at = issued.Token.ExpiresAt?.UtcDateTime,
                },
                StatusCodes.Status201Created);
        }, cancellationToken);
}
