using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using Orchestrator.Shared.Net;
using Orchestrator.Shared.Protos;
using Orchestrator.Shared.Sweeps;

namespace Orchestrator.EndToEnd.Tests;

/// <summary>
/// A coordinator and worker agents as real `orchestrator` processes on loopback, and a Jobs client: what a user
/// runs, killed the way machines die (SIGKILL).
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    public static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(4);
    private readonly List<Node> _nodes = [];
    private readonly GrpcChannel _channel;

    public LocalCluster(string? redis = null)
    {
        Root = Directory.CreateTempSubdirectory("orchestrator-e2e-").FullName;
        GrpcPort = LoopbackPorts.Free();
        Redis = redis;
        _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{GrpcPort}");
        Jobs = new Jobs.JobsClient(_channel);
    }

    public string Root { get; }

    public int GrpcPort { get; }

    public string? Redis { get; }

    public Jobs.JobsClient Jobs { get; }

    public string Coordinator => $"http://127.0.0.1:{GrpcPort}";

    /// <summary>One `orchestrator` process and its output so far.</summary>
    public sealed class Node(Process process, string name)
    {
        private readonly StringBuilder _output = new();

        public Process Process { get; } = process;

        public string Name { get; } = name;

        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        internal void Append(string? line)
        {
            if (line is not null) lock (_output) _output.AppendLine(line);
        }

        public void Kill()
        {
            if (!Process.HasExited) Process.Kill(); // SIGKILL: no shutdown code runs
            Process.WaitForExit();
        }
    }

    public Node StartCoordinator(int? grpcPort = null, int siloPort = 0, int gatewayPort = 0, IDictionary<string, string>? environment = null,
        params string[] extra)
    {
        var args = new List<string>
        {
            "coordinator",
            $"--Orchestrator:GrpcPort={grpcPort ?? GrpcPort}",
            $"--Orchestrator:HttpPort={LoopbackPorts.Free()}",
            $"--Orchestrator:Storage:Path={Path.Combine(Root, "coordinator.db")}",
            $"--Orchestrator:Artifacts:Path={Path.Combine(Root, "artifacts")}",
            $"--Orchestrator:Cluster:SiloPort={(siloPort == 0 ? LoopbackPorts.Free() : siloPort)}",
            $"--Orchestrator:Cluster:GatewayPort={(gatewayPort == 0 ? LoopbackPorts.Free() : gatewayPort)}",
            // Quick failure detection keeps the fault tests short; the logic is the same at any lease.
            "--Orchestrator:Workers:HeartbeatSeconds=1",
            "--Orchestrator:Workers:LeaseSeconds=4",
        };
        if (Redis is not null) args.Add($"--Orchestrator:Cluster:Redis={Redis}");
        args.AddRange(extra);
        return Start($"coordinator:{grpcPort ?? GrpcPort}", args, environment);
    }

    /// <param name="environment">Added to the worker's environment; its trial processes inherit it.</param>
    /// <param name="metricsPort">The port of its Prometheus endpoint (a free one when not given; on loopback only, like the rest).</param>
    /// <param name="pinCores">With --pin-cores: each slot's trial pinned to its share of the worker's cores.</param>
    public Node StartWorker(string id, int slots = 1, string? coordinator = null, IDictionary<string, string>? environment = null, int? metricsPort = null,
        bool pinCores = false) =>
        Start($"worker:{id}",
            ["worker", "--coordinator", coordinator ?? Coordinator, "--worker-id", id, "--slots", $"{slots}",
             "--collective-port", $"{LoopbackPorts.FreeRange(slots)}", "--metrics-port", $"{metricsPort ?? LoopbackPorts.Free()}",
             "--metrics-host", "127.0.0.1", "--work-dir", Path.Combine(Root, "workers", id), .. (pinCores ? new[] { "--pin-cores" } : [])], environment);

    private Node Start(string name, IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Root };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "orchestrator.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) info.Environment[k] = v;
        var process = Process.Start(info)!;
        var node = new Node(process, name);
        process.OutputDataReceived += (_, e) => node.Append(e.Data);
        process.ErrorDataReceived += (_, e) => node.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (_nodes) _nodes.Add(node);
        return node;
    }

    /// <summary>Waits until the coordinator answers the Jobs API.</summary>
    public async Task WaitForCoordinatorAsync(Jobs.JobsClient? client = null)
    {
        var until = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (true)
        {
            try
            {
                await (client ?? Jobs).ListSweepsAsync(new ListSweepsRequest(), deadline: DateTime.UtcNow.AddSeconds(5));
                return;
            }
            catch (RpcException e) when (DateTime.UtcNow < until)
            {
                // A coordinator that exited (a port taken, bad configuration) will not answer: say so with its output.
                List<Node> coordinators;
                lock (_nodes) coordinators = _nodes.Where(n => n.Name.StartsWith("coordinator", StringComparison.Ordinal)).ToList();
                if (coordinators.Count > 0 && coordinators.All(n => n.Process.HasExited))
                    throw new InvalidOperationException($"the coordinator exited before answering ({e.Status.Detail})\n{Logs()}", e);
                await Task.Delay(250);
            }
        }
    }

    public async Task<string> SubmitAsync(string sweepYaml, Jobs.JobsClient? client = null)
    {
        var spec = SweepSpecReader.FromYaml(sweepYaml);
        var response = await (client ?? Jobs).SubmitSweepAsync(new SubmitSweepRequest { RequestId = Guid.NewGuid().ToString("N"), Spec = spec.ToProto() },
            deadline: DateTime.UtcNow.AddSeconds(30));
        return response.SweepId;
    }

    /// <summary>Polls the sweep until <paramref name="done"/> holds (or the hang guard fails the test with the nodes' output).</summary>
    public async Task<Sweep> WaitForAsync(string sweepId, Func<Sweep, bool> done, Jobs.JobsClient? client = null, TimeSpan? limit = null)
    {
        var until = DateTime.UtcNow + (limit ?? HangGuard);
        Sweep? sweep = null;
        while (DateTime.UtcNow < until)
        {
            try
            {
                sweep = await (client ?? Jobs).GetSweepAsync(new GetSweepRequest { SweepId = sweepId }, deadline: DateTime.UtcNow.AddSeconds(10));
                if (done(sweep)) return sweep;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
            {
                // The coordinator is restarting.
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"sweep {sweepId} did not reach the expected state; last: {sweep}\n{Logs()}");
    }

    public string Logs()
    {
        lock (_nodes) return string.Join("\n", _nodes.Select(n => $"---- {n.Name} ----\n{Tail(n.Output, 6000)}"));
    }

    private static string Tail(string text, int chars) => text.Length <= chars ? text : text[^chars..];


    public async ValueTask DisposeAsync()
    {
        List<Node> nodes;
        lock (_nodes) nodes = [.. _nodes];
        // Workers first, so their trial processes are stopped by them, then the coordinator.
        foreach (var node in nodes.OrderBy(n => n.Name.StartsWith("coordinator", StringComparison.Ordinal)))
        {
            if (node.Process.HasExited) continue;
            using (var term = Process.Start("kill", ["-TERM", $"{node.Process.Id}"])) await term.WaitForExitAsync();
            if (!node.Process.WaitForExit(TimeSpan.FromSeconds(20))) node.Process.Kill(entireProcessTree: true);
        }
        _channel.Dispose();
        // Orphaned trial processes notice their agent is gone within a second and exit.
        await Task.Delay(1500);
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
