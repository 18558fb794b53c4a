using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Evaluation;

/// <summary>Distances between two sets of feature vectors [N, D]: Fréchet distance, KID and k-NN precision / recall.</summary>
public static class FeatureMetrics
{
    // Rows of one pairwise-distance block: 256 x 2,500 doubles is 5 MB, so memory stays flat in the set sizes.
    private const int DistanceChunkRows = 256;

    /// <summary>
    /// ‖μa − μb‖² + Tr(Ca + Cb − 2 (Ca Cb)^½) between Gaussians fitted to the two sets, computed in float64.
    /// </summary>
    public static double FrechetDistance(Tensor a, Tensor b)
    {
        CheckFeatures(a, b, minimumRows: 2);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var (meanA, covarianceA) = MeanAndCovariance(ToFloat64(a));
        var (meanB, covarianceB) = MeanAndCovariance(ToFloat64(b));

        var shift = meanA - meanB;
        double meanTerm = shift.dot(shift).item<double>();

        // (Ca Cb)^½ is not symmetric and a general matrix square root is unstable for near-singular covariances
        // (few samples, dead features). Ca Cb is similar to √Ca Cb √Ca, which is symmetric positive semi-definite,
        // so the trace of its square root is the sum of the square roots of that matrix's eigenvalues.
        var rootA = SymmetricSquareRoot(covarianceA);
        var middle = rootA.matmul(covarianceB).matmul(rootA);
        middle = (middle + middle.T) / 2; // round-off leaves it slightly asymmetric; eigh reads one triangle only
        double traceOfRoot = torch.linalg.eigvalsh(middle).clamp_min(0).sqrt().sum().item<double>();

        double distance = meanTerm + covarianceA.trace().item<double>() + covarianceB.trace().item<double>() - 2 * traceOfRoot;
        // The exact value is a squared distance (never negative); anything below zero is round-off.
        return Math.Max(0, distance);
    }

    /// <summary>
    /// Kernel inception distance: the unbiased MMD² estimate with the cubic polynomial kernel
    /// k(x, y) = (x·y / D + 1)³, averaged over <paramref name="subsets"/> random subsets of
    /// <paramref name="subsetSize"/> rows from each set (capped at the smaller set's size).
    /// </summary>
    public static KernelDistance KernelInceptionDistance(Tensor a, Tensor b, int subsets = 10, int subsetSize = 1000, long seed = 0)
    {
        CheckFeatures(a, b, minimumRows: 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(subsets, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(subsetSize, 2);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var x = ToFloat64(a);
        var y = ToFloat64(b);
        long m = Math.Min(subsetSize, Math.Min(x.shape[0], y.shape[0]));
        double dimensions = x.shape[1];
        using var generator = new torch.Generator(unchecked((ulong)seed), torch.CPU);

        var estimates = new double[subsets];
        for (int s = 0; s < subsets; s++)
        {
            using var subsetScope = torch.NewDisposeScope();
            var xs = x.index_select(0, torch.randperm(x.shape[0], generator: generator).narrow(0, 0, m));
            var ys = y.index_select(0, torch.randperm(y.shape[0], generator: generator).narrow(0, 0, m));
            var kxx = CubicKernel(xs, xs, dimensions);
            var kyy = CubicKernel(ys, ys, dimensions);
            var kxy = CubicKernel(xs, ys, dimensions);
            // Unbiased: the within-set terms leave out the diagonal k(x_i, x_i), which would pull the estimate up.
            double within = (kxx.sum() - kxx.trace() + kyy.sum() - kyy.trace()).item<double>() / (m * (m - 1));
            double across = kxy.sum().item<double>() / (m * m);
            estimates[s] = within - 2 * across;
        }

        double mean = estimates.Average();
        double variance = estimates.Sum(e => (e - mean) * (e - mean)) / subsets;
        return new KernelDistance(mean, Math.Sqrt(variance));
    }

    /// <summary>
    /// k-NN precision and recall (Kynkäänniemi et al., 2019): each real sample's ball reaches its k-th nearest other
    /// real sample; precision is the fraction of fakes inside at least one real ball, recall the fraction of reals
    /// inside at least one fake ball.
    /// </summary>
    public static PrecisionRecallScores PrecisionRecall(Tensor real, Tensor fake, int k = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        CheckFeatures(real, fake, minimumRows: k + 1);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var r = ToFloat64(real);
        var f = ToFloat64(fake);
        var realRadii = KthNeighbourDistances(r, k);
        var fakeRadii = KthNeighbourDistances(f, k);
        return new PrecisionRecallScores(
            Precision: FractionInsideAnyBall(f, r, realRadii),
            Recall: FractionInsideAnyBall(r, f, fakeRadii));
    }

    private static Tensor ToFloat64(Tensor features) => features.detach().to(float64).cpu();

    private static (Tensor Mean, Tensor Covariance) MeanAndCovariance(Tensor x)
    {
        var mean = x.mean([0]);
        var centred = x - mean;
        var covariance = centred.T.matmul(centred) / (x.shape[0] - 1);
        return (mean, covariance);
    }

    private static Tensor SymmetricSquareRoot(Tensor symmetric)
    {
        var (values, vectors) = torch.linalg.eigh(symmetric);
        // A covariance is positive semi-definite; eigh returns tiny negative eigenvalues for its null space.
        var roots = values.clamp_min(0).sqrt();
        return (vectors * roots.unsqueeze(0)).matmul(vectors.T);
    }

    private static Tensor CubicKernel(Tensor x, Tensor y, double dimensions) =>
        (x.matmul(y.T) / dimensions + 1).pow(3);

    private static Tensor KthNeighbourDistances(Tensor x, int k)
    {
        long n = x.shape[0];
        var radii = torch.empty(n, float64);
        for (long start = 0; start < n; start += DistanceChunkRows)
        {
            using var chunkScope = torch.NewDisposeScope();
            long rows = Math.Min(DistanceChunkRows, n - start);
            var distances = torch.cdist(x.narrow(0, start, rows), x);
            // The smallest distance in each row is the point to itself, so the k-th other neighbour is the (k+1)-th.
            var (kth, _) = distances.kthvalue(k + 1, 1);
            radii.narrow(0, start, rows).copy_(kth);
        }
        return radii;
    }

    private static double FractionInsideAnyBall(Tensor points, Tensor centres, Tensor radii)
    {
        long n = points.shape[0];
        long inside = 0;
        var limit = radii.unsqueeze(0);
        for (long start = 0; start < n; start += DistanceChunkRows)
        {
            using var chunkScope = torch.NewDisposeScope();
            long rows = Math.Min(DistanceChunkRows, n - start);
            var distances = torch.cdist(points.narrow(0, start, rows), centres);
            inside += distances.le(limit).any(1).sum().item<long>();
        }
        return (double)inside / n;
    }

    private static void CheckFeatures(Tensor a, Tensor b, int minimumRows)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.dim() != 2 || b.dim() != 2)
            throw new ArgumentException($"features must be [N, D]; got [{string.Join(", ", a.shape)}] and [{string.Join(", ", b.shape)}]");
        if (a.shape[1] != b.shape[1])
            throw new ArgumentException($"feature widths differ: {a.shape[1]} and {b.shape[1]}");
        if (a.shape[0] < minimumRows || b.shape[0] < minimumRows)
            throw new ArgumentException($"each set needs at least {minimumRows} rows; got {a.shape[0]} and {b.shape[0]}");
    }
}
