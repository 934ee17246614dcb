"""Changes as polygons: a GeoJSON FeatureCollection written from the change map strip by strip.

Each strip of rows is polygonised on its own (4-connected pixels); polygons that touch a strip
edge are merged with their neighbours across it at the end, so a change region is one feature
whatever the strip height.

By default the file is RFC 7946 GeoJSON: coordinates reprojected to WGS 84 longitude/latitude
(7 decimals, cut at the antimeridian), no ``crs`` member. With ``vector_crs="native"`` the
coordinates stay in the map's CRS, named by the legacy (pre-RFC 7946) ``crs`` member. Maps
without georeference give (column, row) pixel coordinates either way: such a file is not
geographic. Exterior rings are counter-clockwise and holes clockwise (the right-hand rule).
Each feature has ``area`` (units² of the map's own CRS, e.g. m², whatever ``vector_crs``; pixels
without georeference) and ``pixels``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np
import rasterio
from affine import Affine
from rasterio.features import shapes
from rasterio.warp import transform_geom
from rasterio.windows import Window

from hicd.defaults import THRESHOLD
from hicd.errors import ConfigError
from hicd.inference.output import decode_changes
from hicd.inference.raster import is_georeferenced, open_raster

STRIP_ROWS = 1024
WGS84 = "EPSG:4326"
NATIVE = "native"
VECTOR_CRS = {WGS84: WGS84, "wgs84": WGS84, NATIVE: NATIVE}
"""Accepted ``vector_crs`` values and what they mean."""
WGS84_DECIMALS = 7
"""Decimals of reprojected longitudes/latitudes (1e-7° is about 1 cm)."""


def resolve_vector_crs(vector_crs: str) -> str:
    """``"EPSG:4326"`` (also ``"wgs84"``) or ``"native"``; anything else is a ``ConfigError``."""
    resolved = VECTOR_CRS.get(vector_crs, VECTOR_CRS.get(str(vector_crs).lower()))
    if resolved is None:
        raise ConfigError(
            f"vector_crs / --vector-crs must be wgs84 (EPSG:4326) or native, got {vector_crs!r}"
        )
    return resolved


def write_change_polygons(
    change_map: str | Path,
    path: str | Path,
    threshold: float = THRESHOLD,
    strip_rows: int = STRIP_ROWS,
    vector_crs: str = WGS84,
) -> int:
    """Write the changed regions of ``change_map`` to ``path`` (GeoJSON); return their count.

    ``vector_crs``: ``"EPSG:4326"`` (RFC 7946 longitude/latitude) or ``"native"`` (the map's
    CRS, named by a legacy ``crs`` member).
    """
    from shapely.affinity import affine_transform
    from shapely.geometry import mapping, shape

    vector_crs = resolve_vector_crs(vector_crs)
    with open_raster(change_map) as dataset, open(path, "w") as stream:
        georeferenced = is_georeferenced(dataset)
        reproject = georeferenced and vector_crs == WGS84
        transform = dataset.transform if georeferenced else Affine.identity()
        pixel_area = abs(transform.determinant)
        matrix = [
            transform.a,
            transform.b,
            transform.d,
            transform.e,
            transform.xoff,
            transform.yoff,
        ]
        _write_header(stream, dataset, legacy_crs=georeferenced and not reproject)
        count = 0
        for polygon in _polygons(dataset, threshold, strip_rows):
            geometry = affine_transform(polygon, matrix)
            if reproject:
                geometry = shape(
                    transform_geom(dataset.crs, WGS84, mapping(geometry), precision=WGS84_DECIMALS)
                )
            properties = {"area": polygon.area * pixel_area, "pixels": round(polygon.area)}
            geometry = mapping(_right_hand_rule(geometry))
            feature = {"type": "Feature", "properties": properties, "geometry": geometry}
            stream.write(("," if count else "") + "\n" + json.dumps(feature))
            count += 1
        stream.write("\n]}\n")
    return count


def _write_header(stream: TextIO, dataset: rasterio.io.DatasetReaderBase, legacy_crs: bool) -> None:
    collection: dict = {"type": "FeatureCollection"}
    if legacy_crs:
        epsg = dataset.crs.to_epsg()
        name = f"urn:ogc:def:crs:EPSG::{epsg}" if epsg else dataset.crs.to_wkt()
        collection["crs"] = {"type": "name", "properties": {"name": name}}
    stream.write(json.dumps(collection)[:-1] + ', "features": [')


def _right_hand_rule(geometry):
    """Exterior rings counter-clockwise, holes clockwise (polygons and multipolygons)."""
    from shapely.geometry import MultiPolygon
    from shapely.geometry.polygon import orient

    if isinstance(geometry, MultiPolygon):
        return MultiPolygon([orient(part, 1.0) for part in geometry.geoms])
    return orient(geometry, 1.0)


def _polygons(
    dataset: rasterio.io.DatasetReaderBase, threshold: float, strip_rows: int
) -> Iterator:
    """Changed regions as shapely polygons in pixel coordinates, strip by strip."""
    from shapely import unary_union
    from shapely.geometry import shape

    pending = []
    for top in range(0, dataset.height, strip_rows):
        rows = min(strip_rows, dataset.height - top)
        values = dataset.read(1, window=Window(0, top, dataset.width, rows))
        changed = decode_changes(values, threshold)
        if not changed.any():
            continue
        offset = Affine.translation(0, top)
        for geometry, _ in shapes(changed.view(np.uint8), mask=changed, transform=offset):
            polygon = shape(geometry)
            _, low, _, high = polygon.bounds
            inner = (low > top or top == 0) and (high < top + rows or top + rows == dataset.height)
            if inner:
                yield polygon
            else:
                pending.append(polygon)
    if pending:
        merged = unary_union(pending)
        yield from getattr(merged, "geoms", [merged])
