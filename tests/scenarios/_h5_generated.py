"""Tiny generated files in the layout of the supply-chain and IoT data (the real files are not in CI)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np

from ledgerml.scenarios import iot, supply_chain

SCMS_HEADER = (
    "ID,Project Code,PQ #,PO / SO #,ASN/DN #,Country,Managed By,Fulfill Via,Vendor INCO Term,Shipment Mode,"
    "PQ First Sent to Client Date,PO Sent to Vendor Date,Scheduled Delivery Date,Delivered to Client Date,"
    "Delivery Recorded Date,Product Group,Sub Classification,Vendor,Item Description,Molecule/Test Type,Brand,"
    "Dosage,Dosage Form,Unit of Measure (Per Pack),Line Item Quantity,Line Item Value,Pack Price,Unit Price,"
    "Manufacturing Site,First Line Designation,Weight (Kilograms),Freight Cost (USD),Line Item Insurance (USD)"
)
COUNTRIES = ["Nigeria", "Côte d'Ivoire", "Uganda", "Haiti", "Benin", "Togo"]
MODES = ["Air", "Truck", "Ocean", "Air Charter"]


def scms_csv(root: Path, rows: int = 220, seed: int = 0) -> Path:
    """``domains/supply_chain/SCMS_Delivery_History_Dataset.csv``: UTF-8 with BOM, the real 33 columns,
    'Date Not Captured' and 'See ASN' notes, ocean and truck shipments late more often."""
    rng = np.random.default_rng(seed)
    path = root / supply_chain.SCMS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [SCMS_HEADER]
    for i in range(rows):
        country = COUNTRIES[min(int(rng.integers(0, 8)), 5)] if i % 9 else COUNTRIES[4 + i % 2]
        mode = MODES[i % 4]
        scheduled = date(2008, 1, 1) + timedelta(days=int(rng.integers(0, 2500)))
        late = rng.random() < (0.5 if mode in ("Ocean", "Truck") else 0.08)
        delivered = scheduled + timedelta(days=int(rng.integers(1, 30)) if late else -int(rng.integers(0, 20)))
        po = "Date Not Captured" if i % 7 == 0 else (scheduled - timedelta(days=60)).strftime("%m/%d/%y")
        quantity = int(rng.integers(1, 5000))
        pack = round(float(rng.uniform(1, 80)), 2)
        weight = "Weight Captured Separately" if i % 11 == 0 else str(int(rng.integers(1, 3000)))
        fields = [
            str(i + 1),
            "100-XX-T01",
            "Pre-PQ Process",
            f"SCMS-{i}",
            f"ASN-{i}",
            country,
            "PMO - US",
            ["Direct Drop", "From RDC"][i % 2],
            ["EXW", "N/A - From RDC", "DDP"][i % 3],
            mode,
            "Pre-PQ Process",
            po,
            scheduled.strftime("%d-%b-%y"),
            delivered.strftime("%d-%b-%y"),
            delivered.strftime("%d-%b-%y"),
            ["ARV", "HRDT"][i % 2],
            ["Adult", "Pediatric", "HIV test"][i % 3],
            ["Vendor A", "Vendor B"][i % 2],
            '"Item, 30 Tests"',
            "Molecule",
            "Generic",
            "N/A",
            ["Tablet", "Test kit"][i % 2],
            "30",
            str(quantity),
            f"{quantity * pack:.2f}",
            f"{pack:.2f}",
            f"{pack / 30:.2f}",
            "Site",
            ["Yes", "No"][i % 2],
            weight,
            "Freight Included in Commodity Cost" if i % 5 == 0 else f"{rng.uniform(100, 9000):.2f}",
            "",
        ]
        lines.append(",".join(fields))
    path.write_bytes(("\ufeff" + "\n".join(lines) + "\n").encode("utf-8"))
    return path


def cmapss_txt(root: Path, engines: int = 14, seed: int = 0) -> Path:
    """``domains/iot/train_FD001.txt``: 26 space-separated columns (trailing spaces), sensors drifting as
    each engine nears failure."""
    rng = np.random.default_rng(seed)
    path = root / iot.CMAPSS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for unit in range(1, engines + 1):
        life = int(rng.integers(30, 60))
        for cycle in range(1, life + 1):
            wear = cycle / life
            sensors = 500 + 10 * np.arange(21) + 5 * wear * (np.arange(21) % 3) + rng.normal(0, 0.2, 21)
            values = [unit, cycle, *rng.normal(0, 0.002, 2), 100.0, *sensors]
            lines.append(" ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in values) + "  ")
    path.write_text("\n".join(lines) + "\n")
    return path


STATIONS = ["Aotizhongxin", "Dongsi", "Huairou"]
STATION_COLUMNS = ["No", "year", "month", "day", "hour", "PM2.5", "PM10", "SO2", "NO2", "CO", "O3", "TEMP", "PRES"]
STATION_COLUMNS += ["DEWP", "RAIN", "wd", "WSPM", "station"]
STATION_HEADER = ",".join(f'"{c}"' for c in STATION_COLUMNS)


def station_csvs(root: Path, seed: int = 0) -> list[Path]:
    """``domains/iot/beijing_multisite_air_quality/PRSA_Data_<Station>_20130301-20170228.csv``: hourly rows on
    three days (training, validation and test periods), NA gaps, PM2.5 following a smooth daily cycle."""
    rng = np.random.default_rng(seed)
    folder = root / iot.AIR_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for s, name in enumerate(STATIONS):
        lines, number = [STATION_HEADER], 0
        for day in (date(2015, 12, 1), date(2015, 12, 2), date(2016, 5, 1), date(2016, 10, 1)):
            for hour in range(24):
                number += 1
                pm = 60 + 40 * np.sin(hour / 24 * 2 * np.pi) + 10 * s + rng.normal(0, 3)
                values = [number, day.year, day.month, day.day, hour, "NA" if number % 17 == 0 else round(pm)]
                values += [round(pm * 1.3), 5, "NA" if hour == 3 else 40, 800, 50, 2.5, 1020.0, -10.0, 0, "NNW", 2.1]
                lines.append(",".join(str(v) for v in values) + f',"{name}"')
        path = folder / f"PRSA_Data_{name}_20130301-20170228.csv"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths
