"""What tracking and config checking need to know of the network without importing torch; model.py
builds the networks to match."""

# Crop pixels per response cell: every backbone here strides 8 in all, and each of its layers is either
# unpadded (shrinking exemplar and search alike) or keeps the size (mobilenet_v1_deep's last two), so
# that an exemplar of z px and a search crop of x px give a response of (x - z) / 8 + 1 cells a side.
TOTAL_STRIDE = 8
# model.py builds each with the function of that name
BACKBONES = ("alexnet", "light", "mobilenet_v1", "mobilenet_v1_deep")
PRETRAINED_BACKBONES = ("mobilenet_v1", "mobilenet_v1_deep")  # what train.pretrained can start
CONFIG_CHOICES = {("model", "backbone"): BACKBONES}  # for config.load_config


def response_sizes(tracking):
    """Pixels a side of the response map of a search crop against the exemplar, and of that map
    upsampled by tracking.response_up."""
    n = (tracking["instance_size"] - tracking["exemplar_size"]) // TOTAL_STRIDE + 1
    return n, tracking["response_up"] * (n - 1) + 1
