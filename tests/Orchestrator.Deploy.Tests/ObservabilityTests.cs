using System.Text.Json;
using Orchestrator.Deploy.Tests.Rendering;
using Orchestrator.Shared.Telemetry;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Deploy.Tests;

/// <summary>The collector, Prometheus and Grafana configurations hang together and use the names the code exports.</summary>
[Collection(ManifestsCollection.Name)]
public sealed class ObservabilityTests(Manifests manifests)
{
    private Rendering.Rendering Base => manifests["base"];

    private YamlMappingNode ConfigFile(string configMap, string key) =>
        Yaml.LoadDocuments(Base.Generated("ConfigMap", configMap).Map("data")!.Str(key)!, $"{configMap}/{key}").Single();

    private static JsonDocument Dashboard() =>
        JsonDocument.Parse(File.ReadAllText(Repository.PathOf("k8s/base/observability/grafana/orchestrator.json")));

    private static IEnumerable<string> Queries(JsonElement element)
    {
        // Panel targets' "expr" and templating queries ("query" strings or objects holding one, "definition").
        foreach (var property in element.EnumerateObjectOrEmpty())
        {
            if (property.Name is "expr" or "definition" && property.Value.ValueKind == JsonValueKind.String) yield return property.Value.GetString()!;
            else if (property.Name == "query" && property.Value.ValueKind == JsonValueKind.String) yield return property.Value.GetString()!;
            foreach (var nested in Queries(property.Value)) yield return nested;
        }
        if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
            {
                foreach (var nested in Queries(item)) yield return nested;
            }
        }
    }

    [Fact]
    public void Collector_pipelines_name_components_its_config_defines()
    {
        var config = ConfigFile("otel-collector-config", "config.yaml");
        var service = config.Map("service")!;
        foreach (var extension in service.Seq("extensions").Strings())
            Assert.True(config.Map("extensions")?.Get(extension) is not null, $"extension {extension} is not defined");
        var pipelines = service.Map("pipelines")!;
        Assert.Equal(["logs", "metrics", "traces"], pipelines.Children.Keys.Select(k => ((YamlScalarNode)k).Value!.Split('/')[0]).Order());
        foreach (var (nameNode, pipelineNode) in pipelines.Children)
        {
            var pipeline = (YamlMappingNode)pipelineNode;
            foreach (var section in new[] { "receivers", "processors", "exporters" })
            {
                foreach (var component in pipeline.Seq(section).Strings())
                    Assert.True(config.Map(section)?.Get(component) is not null, $"pipeline {((YamlScalarNode)nameNode).Value} uses {section} {component}, which the config does not define");
            }
            Assert.NotEmpty(pipeline.Seq("receivers").Strings());
            Assert.NotEmpty(pipeline.Seq("exporters").Strings());
        }
        Assert.Contains(pipelines.Map("traces")!.Seq("exporters").Strings(), e => e.StartsWith("otlp", StringComparison.Ordinal));
        Assert.Contains("prometheus", pipelines.Map("metrics")!.Seq("exporters").Strings());
    }

    [Fact]
    public void Collector_sends_traces_to_jaeger_and_serves_metrics_where_prometheus_scrapes()
    {
        var config = ConfigFile("otel-collector-config", "config.yaml");
        var traceExporter = pipelinesExporter(config, "traces");
        var (host, port) = HostPort(config.Map("exporters")!.Map(traceExporter)!.Str("endpoint")!);
        Assert.Equal("jaeger", host);
        AssertServiceReaches(host, port);

        var (_, metricsPort) = HostPort(config.Map("exporters")!.Map("prometheus")!.Str("endpoint")!);
        AssertServiceReaches("otel-collector", metricsPort);
        var prometheus = ConfigFile("prometheus-config", "prometheus.yml");
        var job = prometheus.Seq("scrape_configs").Maps().Single(j => j.Str("job_name") == "otel-collector");
        Assert.Contains($"otel-collector:{metricsPort}", job.Seq("static_configs").Maps().SelectMany(s => s.Seq("targets").Strings()));
        Assert.Equal("true", job.Str("honor_labels"));

        // The apps export OTLP to the collector's OTLP receiver.
        var (receiverHost, receiverPort) = HostPort(config.At("receivers.otlp.protocols.grpc")!.Str("endpoint")!);
        Assert.Equal("0.0.0.0", receiverHost);
        foreach (var (workload, container) in new[] { ("StatefulSet", "coordinator"), ("Deployment", "worker") })
        {
            var endpoint = new Uri(Pods.Env(Pods.Container(Base, workload, container, container))["OTEL_EXPORTER_OTLP_ENDPOINT"]!);
            Assert.Equal("otel-collector", endpoint.Host);
            Assert.Equal(receiverPort, endpoint.Port);
            AssertServiceReaches(endpoint.Host, endpoint.Port);
        }

        static string pipelinesExporter(YamlMappingNode config, string pipeline) =>
            config.At($"service.pipelines.{pipeline}")!.Seq("exporters").Strings().Single();
    }

    private static (string Host, int Port) HostPort(string endpoint)
    {
        var colon = endpoint.LastIndexOf(':');
        return (endpoint[..colon], int.Parse(endpoint[(colon + 1)..]));
    }

    private void AssertServiceReaches(string service, int port)
    {
        var svc = Base.Single("Service", service);
        var entry = svc.At("spec")!.Seq("ports").Maps().SingleOrDefault(p => p.Str("port") == port.ToString());
        Assert.True(entry is not null, $"Service {service} has no port {port}");
        var target = entry!.Str("targetPort")!;
        Assert.Contains(Pods.Selected(Base, svc), w => Kustomize.Containers(w).Any(c => Pods.Ports(c).TryGetValue(target, out var p) && p == port));
    }

    [Fact]
    public void Prometheus_jobs_find_the_coordinator_and_worker_pods_on_declared_ports()
    {
        var prometheus = ConfigFile("prometheus-config", "prometheus.yml");
        foreach (var (job, workload, kind) in new[] { ("coordinator", "coordinator", "StatefulSet"), ("worker", "worker", "Deployment") })
        {
            var config = prometheus.Seq("scrape_configs").Maps().Single(j => j.Str("job_name") == job);
            Assert.Equal(ServiceDefaultsExtensions.MetricsPath, config.Str("metrics_path"));
            var keeps = config.Seq("relabel_configs").Maps().Where(r => r.Str("action") == "keep").ToList();
            var label = keeps.Single(k => k.Seq("source_labels").Strings().Single() == "__meta_kubernetes_pod_label_app_kubernetes_io_name").Str("regex");
            var portName = keeps.Single(k => k.Seq("source_labels").Strings().Single() == "__meta_kubernetes_pod_container_port_name").Str("regex")!;
            var target = Base.Single(kind, workload);
            Assert.Equal(label, Pods.Labels(target).Str("app.kubernetes.io/name"));
            Assert.True(Pods.Ports(Kustomize.Containers(target).Single()).ContainsKey(portName), $"{workload} has no port named {portName}");
        }
        // The coordinator serves /metrics on its HTTP port (docs/telemetry.md).
        Assert.Equal("http", prometheus.Seq("scrape_configs").Maps().Single(j => j.Str("job_name") == "coordinator").Seq("relabel_configs").Maps()
            .Single(k => k.Seq("source_labels").Strings().Single() == "__meta_kubernetes_pod_container_port_name").Str("regex"));
        var role = Base.Single("Role", "prometheus-discovery");
        Assert.Contains(role.Seq("rules").Maps(), r => r.Seq("resources").Strings().Contains("pods") && r.Seq("verbs").Strings().Contains("watch"));
    }

    [Fact]
    public void Every_metric_in_the_dashboard_is_one_the_code_exports()
    {
        using var dashboard = Dashboard();
        var exported = CodeFacts.PrometheusMetricNames();
        var queries = Queries(dashboard.RootElement).ToList();
        Assert.NotEmpty(queries);
        var used = queries.SelectMany(PromQl.MetricNames).ToHashSet();
        Assert.Empty(used.Except(exported).Order());
        // The panels the issue asks for: sweeps, trials by state, slots, samples/s, losses, all-reduce time.
        Assert.Superset(new HashSet<string>
        {
            "orchestrator_sweeps", "orchestrator_trials", "orchestrator_worker_slots", "orchestrator_train_samples_total",
            "orchestrator_train_loss", "orchestrator_allreduce_duration_seconds_bucket",
        }, used);
    }

    [Fact]
    public void Dashboard_jobs_are_scrape_jobs_or_otlp_service_names()
    {
        using var dashboard = Dashboard();
        var prometheus = ConfigFile("prometheus-config", "prometheus.yml");
        var jobs = prometheus.Seq("scrape_configs").Maps().Select(j => j.Str("job_name")!).ToHashSet();
        jobs.UnionWith([TelemetryNames.CoordinatorService, TelemetryNames.WorkerService, TelemetryNames.TrainService]);
        var used = Queries(dashboard.RootElement).SelectMany(q => System.Text.RegularExpressions.Regex.Matches(q, "job=\"([^\"]+)\"").Select(m => m.Groups[1].Value)).ToHashSet();
        Assert.NotEmpty(used);
        Assert.Subset(jobs, used);
    }

    [Fact]
    public void Dashboard_datasources_are_provisioned()
    {
        using var dashboard = Dashboard();
        var datasources = ConfigFile("grafana-datasources", "datasources.yaml").Seq("datasources").Maps().ToList();
        var uids = datasources.Select(d => d.Str("uid")).ToHashSet();
        var used = new HashSet<string?>();
        void Collect(JsonElement e)
        {
            if (e.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in e.EnumerateObject())
                {
                    if (p.Name == "datasource" && p.Value.ValueKind == JsonValueKind.Object && p.Value.TryGetProperty("uid", out var uid)) used.Add(uid.GetString());
                    Collect(p.Value);
                }
            }
            else if (e.ValueKind == JsonValueKind.Array) foreach (var i in e.EnumerateArray()) Collect(i);
        }
        Collect(dashboard.RootElement);
        Assert.Subset(uids, used);
        foreach (var datasource in datasources)
        {
            var url = new Uri(datasource.Str("url")!);
            AssertServiceReaches(url.Host, url.Port);
        }
        var provider = ConfigFile("grafana-dashboard-providers", "dashboards.yaml").Seq("providers").Maps().Single();
        var grafana = Pods.Container(Base, "Deployment", "grafana", "grafana");
        Assert.Contains(grafana.Seq("volumeMounts").Maps(), m => m.Str("mountPath") == provider.At("options")!.Str("path"));
    }

    [Theory]
    [InlineData("sum by (a, b) (rate(x_total{job=\"w\", c=~\"$sweep\"}[$__rate_interval]))", "x_total")]
    [InlineData("histogram_quantile(0.95, sum by (le) (rate(y_bucket[5m]))) / on (i) group_left z", "y_bucket z")]
    [InlineData("label_values(orchestrator_train_step, orchestrator_sweep_id)", "orchestrator_train_step")]
    public void PromQl_metric_names_are_found(string expression, string expected)
    {
        Assert.Equal(expected.Split(' ').Order(), PromQl.MetricNames(expression).Order());
    }
}

internal static class JsonElementExtensions
{
    public static IEnumerable<JsonProperty> EnumerateObjectOrEmpty(this JsonElement element) =>
        element.ValueKind == JsonValueKind.Object ? element.EnumerateObject() : [];
}
