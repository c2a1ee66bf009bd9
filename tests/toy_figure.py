"""A toy figure, whole in this one file: the tokens each layer of a run processed
(tests/test_figures_registry.py registers it by importing this)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from aimcsim.outputs.figures import figure


@figure(name="tokens-per-layer", sources=("run",),
        caption="Tokens each layer processed (a toy figure)")
def tokens_per_layer(results, options):
    layers = results.layers[results.layers["mode"] == options.mode]
    fig, ax = plt.subplots(figsize=(3.5, 2.0))
    ax.bar(range(len(layers)), layers["tokens"])
    ax.set_xlabel("layer")
    ax.set_ylabel("tokens")
    return fig
