using System.Diagnostics.Metrics;

namespace Orchestrator.Shared.Telemetry;

/// <summary>Bucket boundaries as instrument advice: the SDK's defaults (0 … 10,000) suit milliseconds, not seconds or bytes.</summary>
public static class HistogramBuckets
{
    /// <summary>1 ms … 60 s: training steps, all-reduces, dispatch, evaluations, checkpoints.</summary>
    public static readonly InstrumentAdvice<double> Seconds = new()
    {
        HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    };

    /// <summary>4 KiB … 4 GiB in powers of four: checkpoints.</summary>
    public static readonly InstrumentAdvice<long> Bytes = new()
    {
        HistogramBucketBoundaries = [4096, 16384, 65536, 262144, 1 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20, 1 << 30, 4L << 30],
    };
}
