using Keybrake.Domain.Audit;
using Keybrake.Domain.Caps;
using Keybrake.Domain.Common;
using Keybrake.Domain.Keys;
using Keybrake.Domain.Labels;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>Vault key lifecycle: issue, list, read, revoke one, revoke by label prefix.</summary>
public sealed class KeysFunctions(OperatorEndpoint endpoint, KeyService keys, IReservationLedger audit, TimeProvider time)
{
    private static readonly string[] IssueFields =
        ["label", "vendor", "daily_usd_cap", "allowed_endpoints", "expires_in", "metadata", "loop_max_calls", "loop_window_seconds", "vendor_account"];
    private static readonly string[] RevokeFields = ["label_prefix"];

    [Function("IssueKey")]
    public Task<IActionResult> IssueAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v1/keys")] HttpRequest request,
        CancellationToken cancellationToken) =>
        endpoint.RunWriteAsync(request, async caller =>
        {
            JsonBody body = await JsonBody.ReadAsync(request, IssueFields, cancellationToken);
            var command = new IssueKeyCommand(
                body.RequiredString("label"),
                body.RequiredString("vendor"),
                body.OptionalDecimal("daily_usd_cap"),
                body.RequiredStringList("allowed_endpoints"),
                body.RequiredString("expires_in"),
                body.OptionalStringMap("metadata"),
                body.OptionalInt("loop_max_calls"),
                body.OptionalInt("loop_window_seconds"),
                body.OptionalString("vendor_account"));
            IssuedKey issued = await keys.IssueAsync(caller, command, cancellationToken);
            DateTimeOffset now = time.GetUtcNow();

            // The audit row keeps the key as listed, never the secret shown in this one answer.
            return new OperatorWrite(
                ApiJson.Result(KeyView.From(issued.Key, now, issued.Secret), StatusCodes.Status201Created),
                issued.Key.Id, issued.Key.Tenant, After: KeyView.From(issued.Key, now));
        }, cancellationToken);

    [Function("ListKeys")]
    public Task<IActionResult> ListAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/keys")] HttpRequest request,
        CancellationToken cancellationToken) =>
        endpoint.RunAsync(request, async caller =>
        {
            KeyPage page = await keys.ListAsync(
                caller,
                request.Query["label_prefix"],
                request.Query["vendor"],
                request.Query["status"],
                OperatorEndpoint.QueryInt(request, "limit"),
                request.Query["cursor"],
                cancellationToken);
            DateTimeOffset now = time.GetUtcNow();
            return ApiJson.Result(new { keys = page.Keys.Select(k => KeyView.From(k, now)), next_cursor = page.NextCursor });
        }, cancellationToken);

    [Function("GetKey")]
    public Task<IActionResult> GetAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/keys/{id}")] HttpRequest request,
        string id,
        CancellationToken cancellationToken) =>
        endpoint.RunAsync(request, async caller =>
        {
            VaultKey key = await keys.GetAsync(caller, id, cancellationToken);
            DateTimeOffset now = time.GetUtcNow();
            long spent = await audit.UsedAsync(CapPlanner.KeyCounter(key, now), cancellationToken);
            return ApiJson.Result(KeyView.From(key, now) with
            {
                SpentTodayUsd = Usd.FromMicros(spent),
                RemainingUsd = Usd.FromMicros(Math.Max(0, key.DailyCapMicros - spent)),
            });
        }, cancellationToken);

    [Function("RevokeKey")]
    public Task<IActionResult> RevokeAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "v1/keys/{id}")] HttpRequest request,
        string id,
        CancellationToken cancellationToken) =>
        endpoint.RunWriteAsync(request, async caller =>
        {
            (VaultKey before, VaultKey after) = await keys.RevokeAsync(caller, id, cancellationToken);
            DateTimeOffset now = time.GetUtcNow();
            KeyView view = KeyView.From(after, now);
            return new OperatorWrite(ApiJson.Result(view), after.Id, after.Tenant, KeyView.From(before, now), view);
        }, cancellationToken);

    [Function("RevokeKeysByPrefix")]
    public Task<IActionResult> RevokeByPrefixAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v1/keys/revoke")] HttpRequest request,
        CancellationToken cancellationToken) =>
        endpoint.RunWriteAsync(request, async caller =>
        {
            JsonBody body = await JsonBody.ReadAsync(request, RevokeFields, cancellationToken);
            string prefix = body.RequiredString("label_prefix");
            int revoked = await keys.RevokeByPrefixAsync(caller, prefix, cancellationToken);
            var result = new { label_prefix = prefix, revoked };
            return new OperatorWrite(ApiJson.Result(result), prefix, Label.TenantOfPrefix(prefix), After: result);
        }, cancellationToken);
}
