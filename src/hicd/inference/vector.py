"""Changes as polygons: a GeoJSON FeatureCollection written from the change map strip by strip.

Each strip of rows is polygonised on its own (4-connected pixels); polygons that touch a strip
edge are merged with their neighbours across it at the end, so a change region is one feature
whatever the strip height. Coordinates are in the map's CRS (the legacy GeoJSON ``crs`` member
names it; they are not reprojected to WGS 84), or (column, row) pixel coordinates for maps
without georeference. Each feature has ``area`` (CRS units², or pixels) and ``pixels``.
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
from rasterio.windows import Window

from hicd.inference.output import decode_changes
from hicd.inference.raster import is_georeferenced, open_raster

STRIP_ROWS = 1024


def write_change_polygons(
    change_map: str | Path, path: str | Path, threshold: float = 0.5, strip_rows: int = STRIP_ROWS
) -> int:
    """Write the changed regions of ``change_map`` to ``path`` (GeoJSON); return their count."""
    from shapely.affinity import affine_transform

    with open_raster(change_map) as dataset, open(path, "w") as stream:
        georeferenced = is_georeferenced(dataset)
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
        _write_header(stream, dataset)
        count = 0
        for polygon in _polygons(dataset, threshold, strip_rows):
            geometry = affine_transform(polygon, matrix)
            properties = {"area": polygon.area * pixel_area, "pixels": round(polygon.area)}
            feature = {"type": "Feature", "properties": properties, "geometry": _mapping(geometry)}
            stream.write(("," if count else "") + "\n" + json.dumps(feature))
            count += 1
        stream.write("\n]}\n")
    return count


def _write_header(stream: TextIO, dataset: rasterio.io.DatasetReaderBase) -> None:
    collection: dict = {"type": "FeatureCollection"}
    if is_georeferenced(dataset):
        epsg = dataset.crs.to_epsg()
        name = f"urn:ogc:def:crs:EPSG::{epsg}" if epsg else dataset.crs.to_wkt()
        collection["crs"] = {"type": "name", "properties": {"name": name}}
    stream.write(json.dumps(collection)[:-1] + ', "features": [')


def _mapping(geometry) -> dict:
    from shapely.geometry import mapping

    return mapping(geometry)


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
