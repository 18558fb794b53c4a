using Orchestrator.Worker.Collectives;

namespace Orchestrator.Worker.Tests.Collectives;

/// <summary>Sequential float32 all-reduce in the ring's documented summation order, and test data that makes the order matter.</summary>
public static class RingReference
{
    /// <summary>
    /// Segment s (the ring's split: sizes differ by at most one, the first ones larger) is summed starting at rank s
    /// and then ranks s+1, s+2, ... mod n, rounding to float after each addition; an average divides that sum by n.
    /// </summary>
    public static float[] AllReduce(float[][] inputs, ReduceOp op)
    {
        int n = inputs.Length;
        int length = inputs[0].Length;
        int quotient = length / n;
        int remainder = length % n;
        var result = new float[length];
        for (int segment = 0; segment < n; segment++)
        {
            int offset = segment * quotient + Math.Min(segment, remainder);
            int count = quotient + (segment < remainder ? 1 : 0);
            for (int i = offset; i < offset + count; i++)
            {
                float sum = inputs[segment][i];
                for (int k = 1; k < n; k++)
                {
                    sum += inputs[(segment + k) % n][i];
                }
                result[i] = op == ReduceOp.Average ? sum / n : sum;
            }
        }
        return result;
    }

    /// <summary>The exact (double) result, for a sanity bound independent of any order.</summary>
    public static double[] Exact(float[][] inputs, ReduceOp op)
    {
        var result = new double[inputs[0].Length];
        foreach (var input in inputs)
        {
            for (int i = 0; i < result.Length; i++)
            {
                result[i] += input[i];
            }
        }
        if (op == ReduceOp.Average)
        {
            for (int i = 0; i < result.Length; i++)
            {
                result[i] /= inputs.Length;
            }
        }
        return result;
    }

    /// <summary>Values spanning six decades with both signs, so that float sums in another order round differently.</summary>
    public static float[][] Inputs(int worldSize, int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, worldSize)
            .Select(_ => Enumerable.Range(0, length)
                .Select(_ => (float)((random.NextDouble() * 2 - 1) * Math.Pow(10, random.Next(-3, 4))))
                .ToArray())
            .ToArray();
    }
}
