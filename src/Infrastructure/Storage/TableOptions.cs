namespace Keybrake.Infrastructure.Storage;

/// <summary>Configuration section <c>Tables</c>: where the app's tables live.</summary>
public sealed class TableOptions
{
    /// <summary>A connection string (locally <c>UseDevelopmentStorage=true</c> for Azurite).</summary>
    public string? ConnectionString { get; set; }

    /// <summary>The table endpoint, used with managed identity in Azure when no connection string is set.</summary>
    public Uri? ServiceUri { get; set; }

    /// <summary>Prepended to every table name, so several deployments or test runs can share an account.</summary>
    public string Prefix { get; set; } = "kb";
}
