using Azure;
using Keybrake.Infrastructure.Storage;

namespace Keybrake.Tests.Proxy;

/// <summary>
/// Storage failures are logged as what they were (type, status, error code, each retry's) so an operator can tell a
/// timeout from a throttle or a conflict, and never with the SDK's messages, which carry request URLs and entity keys.
/// </summary>
public sealed class StorageFailureDescriptionTests
{
    private const string TenantData = "acme:billing-agent:checkout:run-7";

    [Fact]
    public void ExhaustedRetries_ListEachAttempt_WithStatusAndCode_AndNoMessage()
    {
        var retries = new AggregateException(
            $"Retry failed after 3 tries. https://example.table.core.windows.net/audit(PartitionKey='{TenantData}')",
            new RequestFailedException(503, $"Server busy for {TenantData}", "ServerBusy", null),
            new TaskCanceledException($"timed out on {TenantData}"),
            new RequestFailedException(500, $"boom {TenantData}", "InternalError", null));

        string described = StorageFailures.Describe(retries);

        Assert.Equal("AggregateException [RequestFailedException 503 ServerBusy; TaskCanceledException; RequestFailedException 500 InternalError]", described);
        Assert.DoesNotContain(TenantData, described, StringComparison.Ordinal);
    }

    [Fact]
    public void AnythingElse_IsItsTypeOnly()
    {
        Assert.Equal("HttpRequestException", StorageFailures.Describe(new HttpRequestException($"connection refused to {TenantData}")));
    }
}
