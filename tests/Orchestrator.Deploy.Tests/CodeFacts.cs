using System.CommandLine;
using System.Reflection;
using System.Text.RegularExpressions;
using Orchestrator.Cli.Commands;
using Orchestrator.Coordinator.Extensions;
using Orchestrator.Shared.Telemetry;
using Orleans.Hosting.Kubernetes;

namespace Orchestrator.Deploy.Tests;

/// <summary>What the apps' code says about ports, environment variables, command lines and metric names.</summary>
public static partial class CodeFacts
{
    /// <summary>The coordinator's ports by the container port names the manifests give them.</summary>
    public static Dictionary<string, int> CoordinatorPorts(CoordinatorOptions options) => new()
    {
        ["grpc"] = options.GrpcPort,
        ["http"] = options.HttpPort,
        ["silo"] = options.Cluster.SiloPort,
        ["gateway"] = options.Cluster.GatewayPort,
    };

    /// <summary>The property an Orchestrator__A__B environment variable binds to, or null where none does.</summary>
    public static PropertyInfo? OptionProperty(string variable)
    {
        var parts = variable.Split("__");
        if (parts.Length < 2 || !parts[0].Equals(CoordinatorOptions.Section, StringComparison.OrdinalIgnoreCase)) return null;
        var type = typeof(CoordinatorOptions);
        PropertyInfo? property = null;
        foreach (var part in parts.Skip(1))
        {
            if (property is not null && !IsSection(property.PropertyType)) return null;
            property = type.GetProperty(part, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null) return null;
            type = property.PropertyType;
        }
        return property is { CanWrite: true } && !IsSection(property.PropertyType) ? property : null;
    }

    private static bool IsSection(Type type) => type.IsClass && type != typeof(string);

    /// <summary>Whether <paramref name="value"/> converts to the property's type as the configuration binder would.</summary>
    public static bool Converts(PropertyInfo property, string value)
    {
        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        if (type == typeof(string)) return true;
        if (type == typeof(bool)) return bool.TryParse(value, out _);
        if (type == typeof(int)) return int.TryParse(value, out _);
        if (type == typeof(long)) return long.TryParse(value, out _);
        if (type == typeof(double)) return double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out _);
        return false;
    }

    /// <summary>
    /// Environment variables a component's source reads by name: GetEnvironmentVariable("X"), configuration["X"],
    /// and string constants that look like variable names (FOO_BAR) used for them.
    /// </summary>
    public static HashSet<string> VariablesReadBySource(params string[] sourceDirectories)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var directory in sourceDirectories)
        {
            foreach (var file in Directory.EnumerateFiles(Repository.PathOf(directory), "*.cs", SearchOption.AllDirectories))
            {
                if (file.Contains("/obj/", StringComparison.Ordinal) || file.Contains("/bin/", StringComparison.Ordinal)) continue;
                var text = File.ReadAllText(file);
                foreach (Match m in ReadByName().Matches(text)) names.Add(m.Groups[1].Value);
                foreach (Match m in VariableConstant().Matches(text)) names.Add(m.Groups[1].Value);
            }
        }
        return names;
    }

    [GeneratedRegex("""(?:GetEnvironmentVariable\(\s*|[Cc]onfiguration\[\s*)"([A-Za-z_][A-Za-z0-9_]*)"\s*[\)\]]""")]
    private static partial Regex ReadByName();

    [GeneratedRegex("""const\s+string\s+\w+\s*=\s*"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"\s*;""")]
    private static partial Regex VariableConstant();

    /// <summary>The variables Microsoft.Orleans.Hosting.Kubernetes reads (POD_NAME, ORLEANS_SERVICE_ID, ...), from its own constants.</summary>
    public static HashSet<string> OrleansKubernetesVariables() =>
        typeof(KubernetesHostingOptions).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.Name.EndsWith("EnvironmentVariable", StringComparison.Ordinal))
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToHashSet();

    /// <summary>
    /// OTEL_* variables the OpenTelemetry .NET SDK itself reads (exporter, resource and sampler settings), allowed
    /// only for a component whose source turns the OTLP exporter on.
    /// </summary>
    public static readonly string[] OpenTelemetrySdkVariables =
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_METRIC_EXPORT_TIMEOUT",
        "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BLRP_SCHEDULE_DELAY",
    ];

    public static bool UsesOtlpExporter(params string[] sourceDirectories) =>
        sourceDirectories.SelectMany(d => Directory.EnumerateFiles(Repository.PathOf(d), "*.cs", SearchOption.AllDirectories))
            .Any(f => File.ReadAllText(f).Contains("UseOtlpExporter", StringComparison.Ordinal));

    /// <summary>The coordinator's allowed variables: what its code, Shared and Orleans' Kubernetes hosting read.</summary>
    public static HashSet<string> CoordinatorVariables()
    {
        string[] sources = ["src/Coordinator", "src/Shared"];
        var names = VariablesReadBySource(sources);
        names.UnionWith(OrleansKubernetesVariables());
        if (UsesOtlpExporter(sources)) names.UnionWith(OpenTelemetrySdkVariables);
        return names;
    }

    /// <summary>The worker's allowed variables: what `orchestrator` (Cli, Worker, Shared) reads.</summary>
    public static HashSet<string> WorkerVariables()
    {
        string[] sources = ["src/Cli", "src/Worker", "src/Shared"];
        var names = VariablesReadBySource(sources);
        if (UsesOtlpExporter(sources)) names.UnionWith(OpenTelemetrySdkVariables);
        return names;
    }

    /// <summary>`orchestrator`'s own command tree, as the worker image runs it.</summary>
    public static RootCommand OrchestratorCommand()
    {
        var root = new RootCommand { TrainCommand.Create(), WorkerCommand.Create() };
        foreach (var command in RemoteCommands.Create()) root.Subcommands.Add(command);
        return root;
    }

    /// <summary>The value an option of `orchestrator worker` takes for these arguments (its default where absent).</summary>
    public static T? WorkerOption<T>(IReadOnlyList<string> arguments, string option)
    {
        var parse = OrchestratorCommand().Parse(arguments.ToArray());
        return parse.GetValue<T>(option);
    }

    /// <summary>Every Prometheus series name the code exports: the catalogue's names, with a histogram's _bucket/_sum/_count.</summary>
    public static HashSet<string> PrometheusMetricNames()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var metric in MetricNames.All)
        {
            names.Add(metric.Prometheus);
            if (metric.Instrument == "histogram")
            {
                names.Add(metric.Prometheus + "_bucket");
                names.Add(metric.Prometheus + "_sum");
                names.Add(metric.Prometheus + "_count");
            }
        }
        return names;
    }
}
