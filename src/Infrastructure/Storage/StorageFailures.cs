using System.Globalization;
using Azure;
using Azure.Data.Tables;

namespace Keybrake.Infrastructure.Storage;

/// <summary>
/// The one classification of storage failures, shared by the proxy and the operator API so both answer
/// an outage the same way (503) instead of each guessing which exceptions the Azure SDK raises.
/// </summary>
public static class StorageFailures
{
    /// <summary>
    /// Storage errors as the Azure SDK raises them: a failed request, a network error, or its own timeout
    /// (a cancellation nobody asked for, possibly wrapped after its retries). A cancellation the caller asked
    /// for (<paramref name="cancellationToken"/>) is not a storage failure: the client has gone.
    /// </summary>
    public static bool IsStorageFailure(Exception e, CancellationToken cancellationToken) => e switch
    {
        RequestFailedException or HttpRequestException or TimeoutException => true,
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        AggregateException aggregate => aggregate.InnerExceptions.All(inner => IsStorageFailure(inner, cancellationToken)),
        _ => false,
    };

    /// <summary>
    /// What a storage failure was, for a log line: the exception type with the service's status and error code (and the
    /// failed action of a transaction), and for the SDK's exhausted retries each attempt's. Messages are left out: they
    /// carry request URLs and entity keys, which are tenants' data, and nothing in a status or error code is a secret.
    /// </summary>
    public static string Describe(Exception e) => e switch
    {
        TableTransactionFailedException t => $"{t.GetType().Name} {t.Status} {t.ErrorCode} (action {t.FailedTransactionActionIndex?.ToString(CultureInfo.InvariantCulture) ?? "?"})",
        RequestFailedException r => $"{r.GetType().Name} {r.Status} {r.ErrorCode}",
        AggregateException a => $"{a.GetType().Name} [{string.Join("; ", a.InnerExceptions.Select(Describe))}]",
        _ => e.GetType().Name,
    };
}
