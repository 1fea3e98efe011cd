"""Performance estimation without labels and multivariate drift, as NannyML computes them.

Pure computation on frames: no store, no Kafka, no clock. A ``fit_*`` function learns
everything from the reference once (calibrators, sampling-error components, thresholds,
encoders, PCA); the fitted object then scores any analysis frame chunk by chunk.
"""

from monitor.metrics.estimation.cbpe import CBPE_METRICS, FittedCBPE, fit_cbpe
from monitor.metrics.estimation.chunks import RowChunk, split_rows
from monitor.metrics.estimation.pca import FittedReconstruction, fit_reconstruction
from monitor.metrics.estimation.results import ChunkResult, EstimationReport, MetricEstimate
from monitor.metrics.estimation.thresholds import reference_thresholds

__all__ = [
    "CBPE_METRICS",
    "ChunkResult",
    "EstimationReport",
    "FittedCBPE",
    "FittedReconstruction",
    "MetricEstimate",
    "RowChunk",
    "fit_cbpe",
    "fit_reconstruction",
    "reference_thresholds",
    "split_rows",
]
