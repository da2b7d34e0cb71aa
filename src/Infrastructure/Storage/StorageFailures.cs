using Azure;

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
}
