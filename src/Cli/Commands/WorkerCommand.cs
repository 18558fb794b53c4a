using System.CommandLine;
using System.Reflection;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestrator.Shared.Telemetry;
using Orchestrator.Worker.Agent;

namespace Orchestrator.Cli.Commands;

/// <summary>`orchestrator worker`: joins a coordinator and runs the trial members it assigns until stopped.</summary>
public static class WorkerCommand
{
    /// <summary>The environment variable holding the coordinator's join token.</summary>
    public const string JoinTokenVariable = "ORCHESTRATOR_JOIN_TOKEN";

    public static Command Create()
    {
        var coordinator = new Option<string>("--coordinator")
        {
            Description = "The coordinator's URL", DefaultValueFactory = _ => Environment.GetEnvironmentVariable("ORCHESTRATOR_COORDINATOR") ?? "http://127.0.0.1:5080",
        };
        var slots = new Option<int>("--slots") { Description = "Trial members run at the same time", DefaultValueFactory = _ => 1 };
        var devices = new Option<int>("--devices") { Description = "Devices (replicas) one member may use", DefaultValueFactory = _ => 1 };
        var workerId = new Option<string?>("--worker-id") { Description = "Stable name of this worker (default: host name and process id)" };
        var host = new Option<string>("--collective-host") { Description = "Address peers reach this worker's trials on", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--collective-port") { Description = "Slot 0's collective port; slot i uses this plus i", DefaultValueFactory = _ => 29500 };
        var work = new Option<DirectoryInfo?>("--work-dir") { Description = "Where attempts keep their run directories (default: a temp directory)" };
        var metricsPort = new Option<int>("--metrics-port") { Description = "Port of the Prometheus endpoint (/metrics); 0: none", DefaultValueFactory = _ => 9464 };
        var metricsHost = new Option<string>("--metrics-host") { Description = "Address the Prometheus endpoint listens on", DefaultValueFactory = _ => "0.0.0.0" };
        var pinCores = new Option<bool>("--pin-cores")
        {
            Description = "Pin each slot's trial to its own share of this worker's cores (Linux; at least one core per slot and device)",
        };
        var command = new Command("worker", $"Join a coordinator and run the trials it assigns (join token from ${JoinTokenVariable})")
        {
            coordinator, slots, devices, workerId, host, port, work, metricsPort, metricsHost, pinCores,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            WorkerAgentOptions options;
            try
            {
                options = new WorkerAgentOptions
                {
                    Coordinator = new Uri(parse.GetValue(coordinator)!),
                    JoinToken = Environment.GetEnvironmentVariable(JoinTokenVariable) is { Length: > 0 } token ? token : null,
                    Slots = parse.GetValue(slots),
                    Devices = parse.GetValue(devices),
                    WorkerId = parse.GetValue(workerId) ?? $"{Environment.MachineName}-{Environment.ProcessId}",
                    CollectiveHost = parse.GetValue(host)!,
                    CollectivePort = parse.GetValue(port),
                    WorkDirectory = parse.GetValue(work)?.FullName ?? Path.Combine(Path.GetTempPath(), $"orchestrator-worker-{Environment.ProcessId}"),
                    TrainCommand = SelfCommand(),
                    PinCores = parse.GetValue(pinCores),
                };
                options.Validate();
            }
            catch (Exception e) when (e is ArgumentException or UriFormatException)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return ExitCodes.Usage;
            }
            if (parse.GetValue(metricsPort) is < 0 or > 65535 || !IPAddress.TryParse(parse.GetValue(metricsHost), out var metricsAddress))
            {
                Console.Error.WriteLine("error: --metrics-port must be 0 to 65535 and --metrics-host an IP address");
                return ExitCodes.Usage;
            }
            WebApplication telemetryHost;
            try
            {
                telemetryHost = await StartTelemetryAsync(options.WorkerId, metricsAddress, parse.GetValue(metricsPort), cancellationToken);
            }
            catch (IOException e)
            {
                Console.Error.WriteLine($"error: cannot serve metrics on {metricsAddress}:{parse.GetValue(metricsPort)} ({e.Message}); another worker on this host? Pass --metrics-port with a free port, or 0 for none");
                return ExitCodes.Usage;
            }
            await using var telemetry = telemetryHost;
            var logging = telemetry.Services.GetRequiredService<ILoggerFactory>();
            await using var agent = new WorkerAgent(options, logging.CreateLogger("orchestrator.worker"));
            try
            {
                await agent.RunAsync(cancellationToken);
                return ExitCodes.Ok;
            }
            catch (UnauthorizedAccessException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return ExitCodes.Failed;
            }
        });
        return command;
    }

    /// <summary>
    /// The worker's OpenTelemetry (service defaults) and, unless the port is 0, a Kestrel listener serving only the
    /// Prometheus endpoint; the agent itself stays a plain object driven by this command.
    /// </summary>
    private static async Task<WebApplication> StartTelemetryAsync(string workerId, IPAddress address, int port, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.AddServiceDefaults(TelemetryNames.WorkerService, o => { o.WorkerId = workerId; o.Prometheus = port > 0; });
        builder.WebHost.UseKestrel(kestrel =>
        {
            if (port > 0) kestrel.Listen(address, port);
        });
        var app = builder.Build();
        if (port > 0)
        {
            app.MapPrometheusEndpoint();
            await app.StartAsync(cancellationToken);
        }
        return app;
    }

    /// <summary>How to start this same program again: its apphost, or `dotnet` and its dll.</summary>
    public static IReadOnlyList<string> SelfCommand()
    {
        var self = Environment.ProcessPath!;
        return Path.GetFileNameWithoutExtension(self) == "dotnet" ? [self, Assembly.GetEntryAssembly()!.Location] : [self];
    }
}
