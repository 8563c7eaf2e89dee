"""Domains and their named boundary parts: sampling, membership, outward normals, distance functions.

Points are float64 NumPy arrays `(n, d)` in coordinate order; a space-time domain
(`spatial * TimeInterval(t0, t1)`) puts time last. Every domain's boundary is a set
of named parts (`left`, `right`, `bottom`, `top`, ...); the name `boundary` means all.
Shapes combine with `|` (union), `&` (intersection) and `-` (difference), keeping part names,
and `renamed(...)` names the parts for a problem (`circle="cylinder"`).
"""
from .base import Domain, Renamed
from .boxes import Box, Hyperrectangle, Interval, Rectangle
from .csg import Difference, Intersection, Union
from .curved import Annulus, Ball, Disk
from .distance import DistanceFunction
from .polygon import Polygon
from .sampling import SAMPLERS, sample_unit
from .spacetime import Parametric, SpaceTime, TimeInterval
from .transfinite import Coons

__all__ = ["SAMPLERS", "sample_unit", "Domain", "Renamed", "Hyperrectangle", "Interval", "Rectangle", "Box",
           "Polygon", "Disk", "Ball", "Annulus", "Union", "Difference", "Intersection", "DistanceFunction", "Coons",
           "TimeInterval", "SpaceTime", "Parametric"]
