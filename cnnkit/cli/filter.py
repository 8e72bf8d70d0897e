"""``cnnkit filter``: an image filtered by a classic kernel (blur, sharpen, edges), written next to the original.

The kernel comes from :mod:`cnnkit.insight.kernels`, the filtering is :func:`cnnkit.insight.filter_image`
(cnnkit's own ``conv2d``, one channel at a time), the picture :func:`cnnkit.insight.side_by_side`; this module
reads the arguments and the image, writes the PNG and prints what it did.
"""
from __future__ import annotations

from ..data.images import read_image, write_image
from ..insight import filter_image, kernels, sample_image, side_by_side
from ..insight.explain import matrix_text
from . import args as A

HELP = "filter an image with a kernel (blur, sharpen, edges): original and filtered side by side"
DESCRIPTION = (
    "Filter an image with a classic image kernel, applied as a CNN applies it (cross-correlation with cnnkit's "
    "conv2d on every channel, 'same' zero padding, values clipped to 0..255), and write the original and the "
    "filtered image side by side as a PNG. With no IMAGE, the photo china.jpg that ships inside scikit-learn is "
    "used (no download). Named kernels: " + ", ".join(kernels.NAMES) + ".")


def add_arguments(p) -> None:
    p.add_argument("image", nargs="?", default=None, metavar="IMAGE",
                   help="an image file (PNG, JPEG, ...; default: scikit-learn's sample photo china.jpg)")
    p.add_argument("--kernel", required=True, metavar="NAME|FILE.npy|[[..],[..]]",
                   help="a kernel name (e.g. gaussian, sharpen, sobel-x), a .npy file holding a 2-D array with odd "
                        "sides, or a literal such as '[[0,-1,0],[-1,5,-1],[0,-1,0]]'")
    p.add_argument("--size", type=A.positive_int, default=None, metavar="N",
                   help="box and gaussian: the kernel's side, odd (default: 3 for box, 5 for gaussian)")
    p.add_argument("--sigma", type=A.positive_float, default=None, metavar="S",
                   help="gaussian: the standard deviation in pixels (default: 1)")
    p.add_argument("--out", default="filtered.png", metavar="PNG", help="the PNG to write (default: filtered.png)")


def run(args, context) -> int:
    if not args.out.lower().endswith(".png"):
        raise ValueError(f"--out {args.out}: expected a .png file name")
    kernel = kernels.parse_kernel(args.kernel, size=args.size, sigma=args.sigma)
    pixels = sample_image() if args.image is None else read_image(args.image, channels=3)
    if (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 0] == pixels[..., 2]).all():
        pixels = pixels[..., 0]                      # a grayscale picture: filter (and write) one channel
    filtered = filter_image(pixels, kernel)
    write_image(side_by_side(pixels, filtered), args.out)
    source = "scikit-learn's sample photo china.jpg" if args.image is None else args.image
    h, w = pixels.shape[:2]
    print(f"kernel {args.kernel} ({kernel.shape[0]}×{kernel.shape[1]}):", file=context.out)
    print(matrix_text(kernel), file=context.out)
    print(f"wrote {args.out}: {source} ({w}×{h}{'' if pixels.ndim == 3 else ', grayscale'}) | filtered",
          file=context.out)
    return 0
