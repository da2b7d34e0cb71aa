using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace Keybrake.Infra.Tests;

/// <summary>
/// An <see cref="IConfiguration"/> over another that records every path asked for (sections, values) and every
/// section whose children were listed, so a test can see which settings a piece of code really reads.
/// </summary>
internal sealed class RecordingConfiguration : IConfigurationSection
{
    private readonly IConfiguration _inner;

    private RecordingConfiguration(IConfiguration inner, string path, ReadLog log)
    {
        _inner = inner;
        Path = path;
        Log = log;
    }

    public ReadLog Log { get; }

    public string Key => _inner is IConfigurationSection section ? section.Key : "";

    public string Path { get; }

    public string? Value
    {
        get => (_inner as IConfigurationSection)?.Value;
        set => throw new NotSupportedException();
    }

    public string? this[string key]
    {
        get
        {
            Log.Read(Combine(key));
            return _inner[key];
        }
        set => throw new NotSupportedException();
    }

    public static RecordingConfiguration Over(IConfiguration inner) => new(inner, "", new ReadLog());

    public IEnumerable<IConfigurationSection> GetChildren()
    {
        Log.Listed(Path);
        return _inner.GetChildren().Select(c => new RecordingConfiguration(c, c.Path, Log)).ToList();
    }

    public IChangeToken GetReloadToken() => _inner.GetReloadToken();

    public IConfigurationSection GetSection(string key)
    {
        string path = Combine(key);
        return new RecordingConfiguration(_inner.GetSection(key), path, Log);
    }

    private string Combine(string key) => Path.Length == 0 ? key : ConfigurationPath.Combine(Path, key);

    internal sealed class ReadLog
    {
        private readonly List<string> _values = [];
        private readonly List<string> _listed = [];

        /// <summary>Paths whose value was asked for directly (<c>configuration["A:B"]</c>).</summary>
        public IReadOnlyList<string> Values
        {
            get
            {
                lock (_values)
                {
                    return [.. _values];
                }
            }
        }

        /// <summary>Sections whose children were listed, in order (the binder lists a section before binding it).</summary>
        public IReadOnlyList<string> ListedSections
        {
            get
            {
                lock (_values)
                {
                    return [.. _listed];
                }
            }
        }

        public void Read(string path)
        {
            lock (_values)
            {
                _values.Add(path);
            }
        }

        public void Listed(string path)
        {
            lock (_values)
            {
                _listed.Add(path);
            }
        }
    }
}
