using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json;
using Orchestrator.Worker.Collectives;
using static Orchestrator.Benchmarks.Figures;

namespace Orchestrator.Benchmarks;

/// <summary>
/// allreduce: float32 all-reduce across n processes on loopback through ProcessGroup, over the TCP transport and over
/// the gRPC transport, against plain TCP sockets moving exactly the bytes the ring moves around the same ring with
/// the same chunk pipeline (no arithmetic, no framing, received in place): the most a ring can get out of this
/// machine's loopback and kernel copies. For each process count (4 and 2) the parent re-launches itself once per
/// rank (--rank r); every rank hosts all three, and each round runs the three back to back in an order that
/// rotates from round to round, so that noise from the shared machine falls on all of them alike. A round's time is
/// its slowest rank's; figures are medians over rounds, as nccl-tests defines them: algbw = bytes / time,
/// busbw = algbw x 2(n-1)/n, ring_efficiency = the ring's busbw / the raw sockets' busbw.
/// Latency: a 4-byte all-reduce repeated back to back, the median over iterations of the slowest rank's time.
/// A fourth method runs beside them: the same processes all-reducing through shared memory (what a group whose ranks
/// share a host does by default; the ring figures are measured with it turned off).
/// </summary>
public static class AllReduceBenchmark
{
    private static string[] Methods = ["tcp", "grpc", "raw", "shm"];

    public static int Run(string[] args)
    {
        // --methods tcp,raw: a subset, for profiling one of them; the figures need all four.
        int methods = Array.IndexOf(args, "--methods");
        if (methods >= 0 && methods + 1 < args.Length)
        {
            Methods = args[methods + 1].Split(',');
        }
        int rank = Options.Int(args, "--rank", -1);
        return rank >= 0 ? RunRankAsync(args, rank).GetAwaiter().GetResult() : RunParentAsync(args).GetAwaiter().GetResult();
    }

    private static async Task<int> RunParentAsync(string[] args)
    {
        int[] rankCounts = Ints(args, "--ranks", [4, 2]);
        int[] sizesMb = Ints(args, "--mb", [1, 64, 256]);
        int rounds = Options.Int(args, "--rounds", 7);
        int warmup = Options.Int(args, "--warmup", 2);
        int chunkKb = Options.Int(args, "--chunk-kb", ProcessGroupOptions.DefaultChunkBytes / 1024);
        int latencyIterations = Options.Int(args, "--latency-iters", 1000);
        Console.WriteLine($"allreduce: float32 across {string.Join(" and ", rankCounts)} processes on loopback, " +
            $"{string.Join("/", sizesMb)} MB, {chunkKb} KiB chunks, {warmup} warm-up + {rounds} rounds per size " +
            $"(1 MB: 3x the rounds; 256 MB: {Math.Max(3, rounds - 2)}): ring over TCP, ring over gRPC, raw TCP sockets, " +
            $"in rotating order; then {latencyIterations} 4-byte all-reduces each");

        var figures = new Dictionary<string, object> { ["scenario"] = "allreduce" };
        var points = new List<Dictionary<string, object>>();
        var latencies = new Dictionary<string, object>();
        bool verified = true;
        double allocated = 0;
        foreach (int ranks in rankCounts)
        {
            var results = await RunGroupAsync(ranks, sizesMb, rounds, warmup, chunkKb, latencyIterations);
            verified &= results.All(r => r.Verified);
            double factor = 2.0 * (ranks - 1) / ranks;
            Console.WriteLine($"{ranks} processes:");
            if (Methods.Length < 4)
            {
                for (int s = 0; s < sizesMb.Length; s++)
                {
                    foreach (string method in Methods)
                    {
                        Console.WriteLine($"  {sizesMb[s]} MB {method}: {Median(SlowestPerRound(results, r => r.Ms[s][method])):F1} ms, " +
                            $"CPU {Median(TotalPerRound(results, r => r.CpuMs[s][method])):F1} ms (all ranks)");
                    }
                }
                continue;
            }
            for (int s = 0; s < sizesMb.Length; s++)
            {
                long bytes = (long)sizesMb[s] * 1024 * 1024;
                var point = new Dictionary<string, object> { ["ranks"] = ranks, ["mb"] = sizesMb[s] };
                var busbw = new Dictionary<string, double>();
                foreach (string method in Methods)
                {
                    double ms = Median(SlowestPerRound(results, r => r.Ms[s][method]));
                    double algbw = bytes / (ms / 1000) / 1e9;
                    busbw[method] = algbw * factor;
                    point[$"{method}_ms"] = Math.Round(ms, 3);
                    point[$"{method}_algbw_gbps"] = Math.Round(algbw, 4);
                    point[$"{method}_busbw_gbps"] = Math.Round(algbw * factor, 4);
                    // CPU time of all ranks together: what each costs the machine, much less sensitive to the
                    // other work on a shared machine than wall time.
                    point[$"{method}_cpu_ms"] = Math.Round(Median(TotalPerRound(results, r => r.CpuMs[s][method])), 1);
                }
                point["ring_efficiency"] = Math.Round(busbw["tcp"] / busbw["raw"], 4);
                point["ring_efficiency_grpc"] = Math.Round(busbw["grpc"] / busbw["raw"], 4);
                // The same ratio round by round (each round's three runs are side by side), then its median.
                point["ring_efficiency_round_median"] = Math.Round(Median(RoundRatios(results, s, "tcp")), 4);
                point["cpu_ratio_raw_to_tcp"] = Math.Round((double)point["raw_cpu_ms"] / (double)point["tcp_cpu_ms"], 4);
                // Shared memory against the ring over TCP, same bytes, same processes.
                point["shm_speedup_vs_tcp_ring"] = Math.Round(busbw["shm"] / busbw["tcp"], 3);
                points.Add(point);
                Console.WriteLine($"  {sizesMb[s],4} MB: ring/TCP {point["tcp_ms"],9} ms busbw {point["tcp_busbw_gbps"],7} GB/s | " +
                    $"ring/gRPC {point["grpc_ms"],9} ms busbw {point["grpc_busbw_gbps"],7} GB/s | " +
                    $"raw {point["raw_ms"],9} ms busbw {point["raw_busbw_gbps"],7} GB/s | " +
                    $"efficiency TCP {point["ring_efficiency"]} (per-round median {point["ring_efficiency_round_median"]}), gRPC {point["ring_efficiency_grpc"]} | " +
                    $"CPU ms (all ranks) TCP {point["tcp_cpu_ms"]}, gRPC {point["grpc_cpu_ms"]}, raw {point["raw_cpu_ms"]} | " +
                    $"shared memory {point["shm_ms"]} ms busbw {point["shm_busbw_gbps"]} GB/s ({point["shm_speedup_vs_tcp_ring"]}x the TCP ring), CPU {point["shm_cpu_ms"]} ms");
                if (ranks == 4 && sizesMb[s] == 64)
                {
                    figures["ring_efficiency"] = point["ring_efficiency"];
                    figures["ring_efficiency_grpc"] = point["ring_efficiency_grpc"];
                    figures["ring_efficiency_round_median"] = point["ring_efficiency_round_median"];
                    figures["ring_algbw_gbps"] = point["tcp_algbw_gbps"];
                    figures["ring_busbw_gbps"] = point["tcp_busbw_gbps"];
                    figures["socket_busbw_gbps"] = point["raw_busbw_gbps"];
                    figures["shm_algbw_gbps"] = point["shm_algbw_gbps"];
                    figures["shm_busbw_gbps"] = point["shm_busbw_gbps"];
                    figures["shm_speedup_vs_tcp_ring"] = point["shm_speedup_vs_tcp_ring"];
                    allocated = results.Max(r => r.TcpAllocatedBytesPerCall);
                }
            }
            foreach (string method in Methods)
            {
                double us = Median(SlowestPerRound(results, r => r.LatencyUs[method]));
                latencies[$"{ranks}p_{method}"] = Math.Round(us, 1);
                if (ranks == 4 || !figures.ContainsKey("latency_4b_us"))
                {
                    figures[method == "tcp" ? "latency_4b_us" : $"latency_4b_us_{method}"] = Math.Round(us, 1);
                }
            }
            Console.WriteLine($"  4-byte all-reduce latency (median): ring/TCP {latencies[$"{ranks}p_tcp"]} us, " +
                $"ring/gRPC {latencies[$"{ranks}p_grpc"]} us, raw 2(n-1) hops {latencies[$"{ranks}p_raw"]} us, shared memory {latencies[$"{ranks}p_shm"]} us");
        }
        Console.WriteLine($"  results verified on every rank: {verified}");
        figures["tcp_ring_allocated_bytes_per_call"] = Math.Round(allocated);
        figures["latency_4b_us_by_ranks"] = latencies;
        figures["points"] = points;
        figures["chunk_bytes"] = chunkKb * 1024;
        figures["rounds"] = rounds;
        figures["verified"] = verified;
        figures["processor_count"] = Environment.ProcessorCount;
        Console.WriteLine(JsonSerializer.Serialize(figures));
        return verified ? 0 : 1;
    }

    /// <summary>Runs one group of <paramref name="ranks"/> processes through every size and the latency test.</summary>
    private static async Task<List<RankResult>> RunGroupAsync(
        int ranks, int[] sizesMb, int rounds, int warmup, int chunkKb, int latencyIterations)
    {
        string groupId = "bench-" + Guid.NewGuid().ToString("N")[..8];
        var children = new List<Process>();
        try
        {
            for (int r = 0; r < ranks; r++)
            {
                children.Add(StartChild(
                    ["allreduce", "--rank", $"{r}", "--ranks", $"{ranks}", "--mb", string.Join(',', sizesMb),
                        "--rounds", $"{rounds}", "--warmup", $"{warmup}", "--chunk-kb", $"{chunkKb}",
                        "--latency-iters", $"{latencyIterations}", "--methods", string.Join(',', Methods), "--group", groupId]));
            }
            // Each child binds port 0 for its three servers and reports them; all then get the full endpoint lists.
            var endpoints = new string[3][];
            for (int m = 0; m < 3; m++)
            {
                endpoints[m] = new string[ranks];
            }
            for (int r = 0; r < ranks; r++)
            {
                var ports = (await ReadTaggedLineAsync(children[r], "READY ")).Split(' ');
                for (int m = 0; m < 3; m++)
                {
                    endpoints[m][r] = $"127.0.0.1:{ports[m]}";
                }
            }
            string lists = string.Join(' ', endpoints.Select(e => string.Join(',', e)));
            foreach (var child in children)
            {
                await child.StandardInput.WriteLineAsync(lists);
                await child.StandardInput.FlushAsync();
            }
            var results = new List<RankResult>();
            foreach (var child in children)
            {
                results.Add(JsonSerializer.Deserialize<RankResult>(await ReadTaggedLineAsync(child, "RESULT "))!);
            }
            foreach (var child in children)
            {
                await child.WaitForExitAsync();
                if (child.ExitCode != 0)
                {
                    throw new InvalidOperationException($"A rank exited with code {child.ExitCode}.");
                }
            }
            return results;
        }
        finally
        {
            foreach (var child in children)
            {
                if (!child.HasExited)
                {
                    child.Kill();
                }
                child.Dispose();
            }
        }
    }

    private static async Task<int> RunRankAsync(string[] args, int rank)
    {
        int ranks = Options.Int(args, "--ranks", 4);
        int[] sizesMb = Ints(args, "--mb", [64]);
        int rounds = Options.Int(args, "--rounds", 7);
        int warmup = Options.Int(args, "--warmup", 2);
        int chunkBytes = Options.Int(args, "--chunk-kb", 1024) * 1024;
        int latencyIterations = Options.Int(args, "--latency-iters", 1000);
        string groupId = args[Array.IndexOf(args, "--group") + 1];

        await using var grpc = await CollectiveTransports.StartAsync(CollectiveTransportKind.Grpc, "127.0.0.1", 0);
        await using var tcp = await CollectiveTransports.StartAsync(CollectiveTransportKind.Tcp, "127.0.0.1", 0);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Console.WriteLine($"READY {Port(grpc)} {Port(tcp)} {((IPEndPoint)listener.LocalEndpoint).Port}");
        var endpoints = (await Console.In.ReadLineAsync())!.Split(' ');

        await using var grpcGroup = await ProcessGroup.CreateAsync(grpc, GroupOptions(groupId + "-grpc", rank, ranks, endpoints[0], chunkBytes));
        await using var tcpGroup = await ProcessGroup.CreateAsync(tcp, GroupOptions(groupId + "-tcp", rank, ranks, endpoints[1], chunkBytes));
        // The same TCP transport hosts a second group that all-reduces through shared memory.
        await using var shmGroup = await ProcessGroup.CreateAsync(tcp, GroupOptions(groupId + "-shm", rank, ranks, endpoints[1], chunkBytes, sharedMemory: true));
        if (!shmGroup.UsesSharedMemory)
        {
            throw new InvalidOperationException($"the shared-memory group all-reduces by {shmGroup.AllReducePath}");
        }
        using var raw = await TcpRing.ConnectAsync(listener, endpoints[2].Split(',')[(rank + 1) % ranks], rank, ranks, chunkBytes);

        int largest = sizesMb.Max() * 1024 * 1024 / sizeof(float);
        var buffer = new float[largest];
        // Small integers: every partial sum is exact, so the average is known exactly. The average of these is
        // (ranks + 1) / 2 + i % 7 on every rank and stays so, so rounds can repeat in place.
        for (int i = 0; i < buffer.Length; i++)
        {
            buffer[i] = rank + 1 + i % 7;
        }
        // The raw ring moves the same number of bytes from a buffer of its own; it never looks at them.
        var rawBytes = new byte[buffer.Length * sizeof(float)];
        var ms = new List<Dictionary<string, double[]>>();
        var cpuMs = new List<Dictionary<string, double[]>>();
        double allocatedPerCall = 0;
        using var self = Process.GetCurrentProcess();
        foreach (int mb in sizesMb)
        {
            int count = mb * 1024 * 1024 / sizeof(float);
            int sizeRounds = mb <= 4 ? 3 * rounds : mb >= 256 ? Math.Max(3, rounds - 2) : rounds;
            var times = Methods.ToDictionary(m => m, _ => new List<double>());
            var cpu = Methods.ToDictionary(m => m, _ => new List<double>());
            long allocated = 0;
            for (int round = 0; round < warmup + sizeRounds; round++)
            {
                for (int turn = 0; turn < Methods.Length; turn++)
                {
                    string method = Methods[(round + turn) % Methods.Length];
                    await tcpGroup.BarrierAsync();
                    long before = GC.GetTotalAllocatedBytes(precise: true);
                    self.Refresh();
                    var cpuBefore = self.TotalProcessorTime;
                    var sw = Stopwatch.StartNew();
                    switch (method)
                    {
                        case "tcp":
                            await tcpGroup.AllReduceAsync(buffer.AsMemory(0, count), ReduceOp.Average);
                            break;
                        case "grpc":
                            await grpcGroup.AllReduceAsync(buffer.AsMemory(0, count), ReduceOp.Average);
                            break;
                        case "shm":
                            // Blocking, on this thread, as training calls it.
                            shmGroup.AllReduce(buffer.AsMemory(0, count), ReduceOp.Average);
                            break;
                        default:
                            await raw.MoveAsync(rawBytes.AsMemory(0, count * sizeof(float)));
                            break;
                    }
                    double elapsed = sw.Elapsed.TotalMilliseconds;
                    self.Refresh();
                    double cpuElapsed = (self.TotalProcessorTime - cpuBefore).TotalMilliseconds;
                    if (round >= warmup)
                    {
                        times[method].Add(elapsed);
                        cpu[method].Add(cpuElapsed);
                        if (method == "tcp")
                        {
                            allocated += GC.GetTotalAllocatedBytes(precise: true) - before;
                        }
                    }
                }
            }
            if (mb == 64)
            {
                allocatedPerCall = (double)allocated / sizeRounds;
            }
            ms.Add(times.ToDictionary(t => t.Key, t => t.Value.ToArray()));
            cpuMs.Add(cpu.ToDictionary(t => t.Key, t => t.Value.ToArray()));
        }

        var latency = new Dictionary<string, double[]>();
        var one = new float[] { rank + 1 };
        foreach (string method in Methods)
        {
            int warm = Math.Max(10, latencyIterations / 10);
            var us = new double[latencyIterations];
            await tcpGroup.BarrierAsync();
            for (int i = 0; i < warm + latencyIterations; i++)
            {
                long start = Stopwatch.GetTimestamp();
                switch (method)
                {
                    case "tcp":
                        await tcpGroup.AllReduceAsync(one, ReduceOp.Average);
                        break;
                    case "grpc":
                        await grpcGroup.AllReduceAsync(one, ReduceOp.Average);
                        break;
                    case "shm":
                        shmGroup.AllReduce(one, ReduceOp.Average);
                        break;
                    default:
                        await raw.HopsAsync(2 * (ranks - 1));
                        break;
                }
                if (i >= warm)
                {
                    us[i - warm] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                }
            }
            latency[method] = us;
        }

        await tcpGroup.AllReduceAsync(buffer, ReduceOp.Average);
        await grpcGroup.AllReduceAsync(buffer, ReduceOp.Average);
        shmGroup.AllReduce(buffer, ReduceOp.Average);
        await tcpGroup.AllReduceAsync(one, ReduceOp.Average);
        bool verified = Verify(buffer, ranks) && one[0] == (ranks + 1) / 2f;
        Console.WriteLine("RESULT " + JsonSerializer.Serialize(new RankResult(rank, [.. ms], [.. cpuMs], latency, allocatedPerCall, verified)));
        return verified ? 0 : 1;
    }

    private static ProcessGroupOptions GroupOptions(string groupId, int rank, int ranks, string endpoints, int chunkBytes, bool sharedMemory = false) => new()
    {
        GroupId = groupId,
        Rank = rank,
        WorldSize = ranks,
        Endpoints = endpoints.Split(','),
        ChunkBytes = chunkBytes,
        Timeout = TimeSpan.FromSeconds(60),
        // The ring's figures are the ring's: on one host a group would otherwise all-reduce through shared memory.
        SharedMemory = sharedMemory,
    };

    private static int Port(ICollectiveTransport transport) => IPEndPoint.Parse(transport.Endpoint).Port;

    private static bool Verify(float[] buffer, int ranks)
    {
        float mean = (ranks + 1) / 2f;
        for (int i = 0; i < buffer.Length; i++)
        {
            if (buffer[i] != mean + i % 7)
            {
                return false;
            }
        }
        return true;
    }

    private static int[] Ints(string[] args, string name, int[] fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length
            ? args[i + 1].Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray()
            : fallback;
    }

    private static Process StartChild(string[] args)
    {
        string self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // Run as `dotnet Orchestrator.Benchmarks.dll`: the host needs the assembly first.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        }
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        return Process.Start(start)!;
    }

    private static async Task<string> ReadTaggedLineAsync(Process child, string tag)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(15));
        while (await child.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith(tag, StringComparison.Ordinal))
            {
                return line[tag.Length..];
            }
        }
        throw new InvalidOperationException($"A rank exited before printing '{tag.Trim()}'.");
    }

    private static double[] SlowestPerRound(List<RankResult> results, Func<RankResult, double[]> times) =>
        Enumerable.Range(0, times(results[0]).Length).Select(round => results.Max(r => times(r)[round])).ToArray();

    private static double[] TotalPerRound(List<RankResult> results, Func<RankResult, double[]> values) =>
        Enumerable.Range(0, values(results[0]).Length).Select(round => results.Sum(r => values(r)[round])).ToArray();

    /// <summary>Raw time / ring time per round, both the slowest rank's: busbw ratios of runs made side by side.</summary>
    private static double[] RoundRatios(List<RankResult> results, int size, string method)
    {
        var ring = SlowestPerRound(results, r => r.Ms[size][method]);
        var raw = SlowestPerRound(results, r => r.Ms[size]["raw"]);
        return ring.Select((t, i) => raw[i] / t).ToArray();
    }


    /// <param name="Ms">Per size, per method, each measured round's milliseconds.</param>
    /// <param name="CpuMs">Per size, per method, the process's CPU time (user + system) in each measured round.</param>
    /// <param name="LatencyUs">Per method, each 4-byte all-reduce's microseconds.</param>
    private sealed record RankResult(
        int Rank,
        Dictionary<string, double[]>[] Ms,
        Dictionary<string, double[]>[] CpuMs,
        Dictionary<string, double[]> LatencyUs,
        double TcpAllocatedBytesPerCall,
        bool Verified);

    /// <summary>Raw TCP ring with the all-reduce's data movement: same segments, chunks and send-after-receive pipeline.</summary>
    private sealed class TcpRing : IDisposable
    {
        private readonly Socket _right;
        private readonly Socket _left;
        private readonly int _rank;
        private readonly int _ranks;
        private readonly int _chunkBytes;
        private readonly byte[] _token = new byte[4];

        private TcpRing(Socket right, Socket left, int rank, int ranks, int chunkBytes)
        {
            _right = right;
            _left = left;
            _rank = rank;
            _ranks = ranks;
            _chunkBytes = chunkBytes;
        }

        public static async Task<TcpRing> ConnectAsync(TcpListener listener, string rightEndpoint, int rank, int ranks, int chunkBytes)
        {
            // The same socket options as TcpTransport's links (NoDelay, kernel-tuned buffers): a fair baseline.
            var right = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            var accept = listener.AcceptSocketAsync();
            var endpoint = IPEndPoint.Parse(rightEndpoint);
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    await right.ConnectAsync(endpoint);
                    break;
                }
                catch (SocketException) when (attempt < 100)
                {
                    await Task.Delay(20);
                }
            }
            var left = await accept;
            left.NoDelay = true;
            return new TcpRing(right, left, rank, ranks, chunkBytes);
        }

        public async Task MoveAsync(Memory<byte> bytes)
        {
            int n = _ranks;
            int quotient = bytes.Length / sizeof(float) / n;
            int remainder = bytes.Length / sizeof(float) % n;
            int largest = (quotient + (remainder > 0 ? 1 : 0)) * sizeof(float);
            int chunks = Math.Max(1, (largest + _chunkBytes - 1) / _chunkBytes);
            int frames = 2 * (n - 1) * chunks;
            using var received = new SemaphoreSlim(0);

            Memory<byte> Chunk(int segment, int chunk)
            {
                int offset = (segment * quotient + Math.Min(segment, remainder)) * sizeof(float);
                int count = (quotient + (segment < remainder ? 1 : 0)) * sizeof(float);
                int start = Math.Min(chunk * _chunkBytes, count);
                int end = Math.Min((chunk + 1) * _chunkBytes, count);
                return bytes.Slice(offset + start, end - start);
            }

            async Task SendAsync()
            {
                for (int frame = 0; frame < frames; frame++)
                {
                    int step = frame / chunks;
                    if (step > 0)
                    {
                        await received.WaitAsync();
                    }
                    var chunk = Chunk(((_rank - step) % n + n) % n, frame % chunks);
                    int sent = 0;
                    while (sent < chunk.Length)
                    {
                        sent += await _right.SendAsync(chunk[sent..], SocketFlags.None);
                    }
                }
            }

            async Task ReceiveAsync()
            {
                for (int frame = 0; frame < frames; frame++)
                {
                    int step = frame / chunks;
                    var chunk = Chunk(((_rank - step - 1) % n + n) % n, frame % chunks);
                    await ReadAsync(chunk);
                    received.Release();
                }
            }

            await Task.WhenAll(SendAsync(), ReceiveAsync());
        }

        /// <summary>The 4-byte all-reduce's critical path without a protocol: <paramref name="hops"/> tokens, each forwarded once received.</summary>
        public async Task HopsAsync(int hops)
        {
            // Every rank sends its first token at once, as the ring's first step does, then forwards each one it receives.
            await _right.SendAsync(_token, SocketFlags.None);
            for (int hop = 0; hop < hops; hop++)
            {
                await ReadAsync(_token);
                if (hop + 1 < hops)
                {
                    await _right.SendAsync(_token, SocketFlags.None);
                }
            }
        }

        private async Task ReadAsync(Memory<byte> chunk)
        {
            int read = 0;
            while (read < chunk.Length)
            {
                int got = await _left.ReceiveAsync(chunk[read..], SocketFlags.None);
                if (got == 0)
                {
                    throw new IOException("The left-hand rank closed its socket.");
                }
                read += got;
            }
        }

        public void Dispose()
        {
            _right.Dispose();
            _left.Dispose();
        }
    }
}
