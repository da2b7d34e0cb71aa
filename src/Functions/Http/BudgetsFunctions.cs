using Keybrake.Domain.Caps;
using Keybrake.Domain.Common;
using Keybrake.Domain.Labels;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.Functions.Http;

/// <summary>Budgets on label prefixes: hard daily/monthly caps enforced at proxy time, with alert thresholds.</summary>
public sealed class BudgetsFunctions(OperatorEndpoint endpoint, BudgetService budgets)
{
    private static readonly string[] PutFields = ["daily_usd", "monthly_usd", "alert_thresholds"];

    [Function("PutBudget")]
    public Task<IActionResult> PutAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = "v1/budgets/{labelPrefix}")] HttpRequest request,
        string labelPrefix,
        CancellationToken cancellationToken) =>
        endpoint.RunWriteAsync(request, async caller =>
        {
            JsonBody body = await JsonBody.ReadAsync(request, PutFields, cancellationToken);
            (Budget? before, Budget budget) = await budgets.PutAsync(
                caller, labelPrefix, body.OptionalDecimal("daily_usd"), body.OptionalDecimal("monthly_usd"), body.OptionalDecimalList("alert_thresholds"),
                cancellationToken);
            object view = View(budget);
            return new OperatorWrite(ApiJson.Result(view), Target(budget), Label.TenantOfPrefix(budget.Prefix), before is null ? null : View(before), view);
        }, cancellationToken);

    [Function("DeleteBudget")]
    public Task<IActionResult> DeleteAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "v1/budgets/{labelPrefix}")] HttpRequest request,
        string labelPrefix,
        CancellationToken cancellationToken) =>
        endpoint.RunWriteAsync(request, async caller =>
        {
            Budget deleted = await budgets.DeleteAsync(caller, labelPrefix, cancellationToken);
            object view = View(deleted);
            return new OperatorWrite(ApiJson.Result(view), Target(deleted), Label.TenantOfPrefix(deleted.Prefix), Before: view);
        }, cancellationToken);

    [Function("ListBudgets")]
    public Task<IActionResult> ListAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/budgets")] HttpRequest request,
        CancellationToken cancellationToken) =>
        endpoint.RunAsync(request, async caller =>
            ApiJson.Result(new { budgets = (await budgets.ListAsync(caller, cancellationToken)).Select(View) }), cancellationToken);

    private static string Target(Budget budget) => budget.Prefix.Length == 0 ? BudgetService.PlatformPrefix : budget.Prefix;

    private static object View(Budget budget) => new
    {
        label_prefix = budget.Prefix,
        daily_usd = budget.DailyMicros is long daily ? Usd.FromMicros(daily) : (decimal?)null,
        monthly_usd = budget.MonthlyMicros is long monthly ? Usd.FromMicros(monthly) : (decimal?)null,
        alert_thresholds = budget.AlertThresholds,
        updated_at = budget.UpdatedAt.UtcDateTime,

        // "root", or the tenant whose token created it (and may change it).
        owner = budget.OwnerTenant ?? "root",
        updated_by = budget.UpdatedBy,
    };
}
