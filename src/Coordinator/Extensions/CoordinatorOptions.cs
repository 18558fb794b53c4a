namespace Orchestrator.Coordinator.Extensions;

/// <summary>The coordinator's settings, section <c>Orchestrator</c> (environment: <c>Orchestrator__Auth__ApiToken</c>, ...).</summary>
public sealed class CoordinatorOptions
{
    public const string Section = "Orchestrator";

    /// <summary>Port of the gRPC endpoint (Jobs, WorkerGateway, grpc.health.v1): HTTP/2, or HTTP/1.1 + HTTP/2 with TLS.</summary>
    public int GrpcPort { get; set; } = 7700;

    /// <summary>Port of the plain HTTP/1.1 endpoint for /alive and /health (Kubernetes probes).</summary>
    public int HttpPort { get; set; } = 7701;

    public AuthSettings Auth { get; set; } = new();
    public TlsSettings Tls { get; set; } = new();
    public StorageSettings Storage { get; set; } = new();
    public ArtifactSettings Artifacts { get; set; } = new();
    public ClusterSettings Cluster { get; set; } = new();
    public WorkerSettings Workers { get; set; } = new();
    public LimitSettings Limits { get; set; } = new();

    /// <summary>Whether both tokens are set; without them the coordinator listens on loopback only.</summary>
    public bool Secured => !string.IsNullOrEmpty(Auth.ApiToken) && !string.IsNullOrEmpty(Auth.JoinToken);
}

/// <summary>Bearer tokens; also read from ORCHESTRATOR_API_TOKEN and ORCHESTRATOR_JOIN_TOKEN.</summary>
public sealed class AuthSettings
{
    public string? ApiToken { get; set; }
    public string? JoinToken { get; set; }
}

/// <summary>A PFX certificate for both endpoints; unset: plain text.</summary>
public sealed class TlsSettings
{
    public string? CertificatePath { get; set; }
    public string? CertificatePassword { get; set; }
}

/// <summary>Embedded storage: the SQLite file holding every grain's state.</summary>
public sealed class StorageSettings
{
    public string Path { get; set; } = "data/coordinator.db";
}

/// <summary>The artifact directory (a volume in Kubernetes).</summary>
public sealed class ArtifactSettings
{
    public string Path { get; set; } = "data/artifacts";
    public long MaxBytes { get; set; } = 4L << 30;
}

/// <summary>Orleans clustering: embedded (localhost + SQLite) unless <see cref="Redis"/> is set.</summary>
public sealed class ClusterSettings
{
    /// <summary>host:port (or a StackExchange.Redis configuration string) of Redis for clustering and grain state.</summary>
    public string? Redis { get; set; }
    /// <summary>Use Orleans' Kubernetes hosting (pod labels, silo identity from the pod).</summary>
    public bool Kubernetes { get; set; }
    public int SiloPort { get; set; } = 11111;
    public int GatewayPort { get; set; } = 30000;
    public string ClusterId { get; set; } = "orchestrator";
    public string ServiceId { get; set; } = "orchestrator";
}

/// <summary>Worker liveness: a worker silent for <see cref="LeaseSeconds"/> loses its attempts.</summary>
public sealed class WorkerSettings
{
    public double HeartbeatSeconds { get; set; } = 2;
    public double LeaseSeconds { get; set; } = 10;
    /// <summary>Later requests may start ahead of a waiting gang at most this many times before it gets every freed slot.</summary>
    public int MaxBackfill { get; set; } = 8;
}

/// <summary>Caps applied to submitted sweeps.</summary>
public sealed class LimitSettings
{
    public int MaxTrials { get; set; } = 10_000;
    /// <summary>The cluster's size for resources.workers checks; unset: the workers connected at submit (at least 1).</summary>
    public int? ClusterWorkers { get; set; }
}
