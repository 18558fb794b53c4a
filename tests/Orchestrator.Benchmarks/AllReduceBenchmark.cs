using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json;
using Orchestrator.Worker.Collectives;

namespace Orchestrator.Benchmarks;

/// <summary>
/// allreduce: a 64 MB float32 all-reduce across 4 processes on loopback, through ProcessGroup over gRPC, against
/// plain TCP sockets moving the same bytes around the same ring with the same chunk pipeline (no arithmetic, no
/// framing): the most a ring can get out of this machine's loopback. The parent re-launches itself once per rank
/// (--rank r); rounds alternate which of the two goes first, and each round's time is its slowest rank's.
/// Figures as nccl-tests defines them: algbw = bytes / time, busbw = algbw x 2(n-1)/n.
/// </summary>
public static class AllReduceBenchmark
{
    public static int Run(string[] args)
    {
        int rank = Options.Int(args, "--rank", -1);
        return rank >= 0 ? RunRankAsync(args, rank).GetAwaiter().GetResult() : RunParentAsync(args).GetAwaiter().GetResult();
    }

    private static async Task<int> RunParentAsync(string[] args)
    {
        int ranks = Options.Int(args, "--ranks", 4);
        int megabytes = Options.Int(args, "--mb", 64);
        int rounds = Options.Int(args, "--rounds", 7);
        int warmup = Options.Int(args, "--warmup", 2);
        int chunkKb = Options.Int(args, "--chunk-kb", ProcessGroupOptions.DefaultChunkBytes / 1024);
        Console.WriteLine($"allreduce: {megabytes} MB float32 across {ranks} processes on loopback, {chunkKb} KiB chunks, " +
            $"{warmup} warm-up + {rounds} rounds (gRPC ring and raw TCP ring, alternating)");

        string groupId = "bench-" + Guid.NewGuid().ToString("N")[..8];
        var children = new List<Process>();
        try
        {
            for (int r = 0; r < ranks; r++)
            {
                children.Add(StartChild(
                    ["allreduce", "--rank", $"{r}", "--ranks", $"{ranks}", "--mb", $"{megabytes}", "--rounds", $"{rounds}",
                        "--warmup", $"{warmup}", "--chunk-kb", $"{chunkKb}", "--group", groupId]));
            }
            // Each child binds port 0 for both servers and reports them; all then get the full endpoint lists.
            var grpcEndpoints = new string[ranks];
            var tcpEndpoints = new string[ranks];
            for (int r = 0; r < ranks; r++)
            {
                string ready = await ReadTaggedLineAsync(children[r], "READY ");
                var ports = ready.Split(' ');
                grpcEndpoints[r] = $"127.0.0.1:{ports[0]}";
                tcpEndpoints[r] = $"127.0.0.1:{ports[1]}";
            }
            foreach (var child in children)
            {
                await child.StandardInput.WriteLineAsync($"{string.Join(',', grpcEndpoints)} {string.Join(',', tcpEndpoints)}");
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

            long bytes = (long)megabytes * 1024 * 1024;
            double factor = 2.0 * (ranks - 1) / ranks;
            var grpcMs = SlowestPerRound(results, r => r.GrpcMs);
            var tcpMs = SlowestPerRound(results, r => r.TcpMs);
            for (int round = 0; round < grpcMs.Length; round++)
            {
                Console.WriteLine($"  round {round + 1}: gRPC ring {grpcMs[round]:F1} ms, TCP ring {tcpMs[round]:F1} ms");
            }
            double grpcAlgbw = bytes / (Median(grpcMs) / 1000) / 1e9;
            double tcpAlgbw = bytes / (Median(tcpMs) / 1000) / 1e9;
            double grpcBusbw = grpcAlgbw * factor;
            double tcpBusbw = tcpAlgbw * factor;
            Console.WriteLine($"  gRPC ring: {Median(grpcMs):F1} ms, algbw {grpcAlgbw:F3} GB/s, busbw {grpcBusbw:F3} GB/s");
            Console.WriteLine($"  TCP ring:  {Median(tcpMs):F1} ms, algbw {tcpAlgbw:F3} GB/s, busbw {tcpBusbw:F3} GB/s");
            Console.WriteLine($"  results verified on every rank: {results.All(r => r.Verified)}");
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["scenario"] = "allreduce",
                ["ranks"] = ranks,
                ["bytes"] = bytes,
                ["chunk_bytes"] = chunkKb * 1024,
                ["rounds"] = grpcMs.Length,
                ["ring_ms"] = Math.Round(Median(grpcMs), 2),
                ["ring_algbw_gbps"] = Math.Round(grpcAlgbw, 4),
                ["ring_busbw_gbps"] = Math.Round(grpcBusbw, 4),
                ["socket_ms"] = Math.Round(Median(tcpMs), 2),
                ["socket_algbw_gbps"] = Math.Round(tcpAlgbw, 4),
                ["socket_busbw_gbps"] = Math.Round(tcpBusbw, 4),
                ["ring_efficiency"] = Math.Round(grpcBusbw / tcpBusbw, 4),
                ["verified"] = results.All(r => r.Verified),
                ["processor_count"] = Environment.ProcessorCount,
            }));
            return 0;
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
        int megabytes = Options.Int(args, "--mb", 64);
        int rounds = Options.Int(args, "--rounds", 7);
        int warmup = Options.Int(args, "--warmup", 2);
        int chunkBytes = Options.Int(args, "--chunk-kb", 1024) * 1024;
        string groupId = args[Array.IndexOf(args, "--group") + 1];

        await using var transport = await GrpcTransport.StartAsync("127.0.0.1", 0);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Console.WriteLine($"READY {transport.Port} {((IPEndPoint)listener.LocalEndpoint).Port}");
        var endpoints = (await Console.In.ReadLineAsync())!.Split(' ');
        var grpcEndpoints = endpoints[0].Split(',');
        var tcpEndpoints = endpoints[1].Split(',');

        await using var group = await ProcessGroup.CreateAsync(transport, new ProcessGroupOptions
        {
            GroupId = groupId,
            Rank = rank,
            WorldSize = ranks,
            Endpoints = grpcEndpoints,
            ChunkBytes = chunkBytes,
            Timeout = TimeSpan.FromSeconds(60),
        });
        using var ring = await TcpRing.ConnectAsync(listener, tcpEndpoints[(rank + 1) % ranks], rank, ranks, chunkBytes);

        var buffer = new float[megabytes * 1024 * 1024 / sizeof(float)];
        // Small integers: every partial sum is exact, so the average is known exactly. The average of these is
        // (ranks + 1) / 2 + i % 7 on every rank and stays so, so rounds can repeat in place.
        for (int i = 0; i < buffer.Length; i++)
        {
            buffer[i] = rank + 1 + i % 7;
        }
        // The raw ring moves the same number of bytes from a buffer of its own; it never looks at them.
        var raw = new byte[buffer.Length * sizeof(float)];
        var grpcMs = new List<double>();
        var tcpMs = new List<double>();
        for (int round = 0; round < warmup + rounds; round++)
        {
            bool grpcFirst = round % 2 == 0;
            for (int half = 0; half < 2; half++)
            {
                bool grpc = grpcFirst == (half == 0);
                await group.BarrierAsync();
                var sw = Stopwatch.StartNew();
                if (grpc)
                {
                    await group.AllReduceAsync(buffer, ReduceOp.Average);
                }
                else
                {
                    await ring.MoveAsync(raw);
                }
                double ms = sw.Elapsed.TotalMilliseconds;
                if (round >= warmup)
                {
                    (grpc ? grpcMs : tcpMs).Add(ms);
                }
            }
        }
        await group.AllReduceAsync(buffer, ReduceOp.Average);
        bool verified = Verify(buffer, ranks);
        Console.WriteLine("RESULT " + JsonSerializer.Serialize(new RankResult(rank, [.. grpcMs], [.. tcpMs], verified)));
        return verified ? 0 : 1;
    }

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
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
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

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private sealed record RankResult(int Rank, double[] GrpcMs, double[] TcpMs, bool Verified);

    /// <summary>Raw TCP ring with the all-reduce's data movement: same segments, chunks and send-after-receive pipeline.</summary>
    private sealed class TcpRing : IDisposable
    {
        private readonly Socket _right;
        private readonly Socket _left;
        private readonly int _rank;
        private readonly int _ranks;
        private readonly int _chunkBytes;

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

        public async Task MoveAsync(byte[] buffer)
        {
            var bytes = buffer.AsMemory();
            int n = _ranks;
            int quotient = buffer.Length / sizeof(float) / n;
            int remainder = buffer.Length / sizeof(float) % n;
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
                    received.Release();
                }
            }

            await Task.WhenAll(SendAsync(), ReceiveAsync());
        }

        public void Dispose()
        {
            _right.Dispose();
            _left.Dispose();
        }
    }
}
