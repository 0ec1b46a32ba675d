"""Where tvdesk keeps its files: the data folder, settings.toml, the journal and the log."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from tvdesk import __version__
from tvdesk.config.paths import Paths


def open_folder(folder: Path) -> str | None:
    """Show ``folder`` in the desktop's file manager; why not, in words, when it cannot."""
    if not folder.is_dir():
        return f"{folder} does not exist (yet)."
    if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
        return f"No file manager answered. The folder is {folder}"
    return None


def file_rows(paths: Paths, log_file: Path) -> list[tuple[str, str, Path]]:
    """(object name, what it is, where) for each file a trader may look for."""
    return [
        ("path_data", "Data folder", paths.data_dir),
        ("path_settings", "Settings", paths.settings_file),
        ("path_journal", "Journal", paths.journal_file),
        ("path_log", "Log", log_file),
    ]


class PathsDialog(QDialog):
    def __init__(self, parent: QWidget, paths: Paths, log_file: Path) -> None:
        super().__init__(parent)
        self.setObjectName("pathsDialog")
        self.setWindowTitle("tvdesk: files and version")
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 90)
        self.paths = paths
        form = QFormLayout()
        form.addRow("Version", QLabel(__version__, objectName="path_version"))
        for name, what, where in file_rows(paths, log_file):
            label = QLabel(str(where), objectName=name)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(what, label)
        self.note = QLabel(objectName="pathsNote", wordWrap=True)
        self.note.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.open_button = buttons.addButton(
            "&Open data folder", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.open_button.setObjectName("openDataFolder")
        self.open_button.clicked.connect(self.open_data_folder)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                "settings.toml may be edited while tvdesk runs: the next alert obeys it "
                "(the listener, tunnel and mode change at the next start).",
                wordWrap=True,
            )
        )
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(buttons)

    def open_data_folder(self) -> None:
        problem = open_folder(self.paths.data_dir)
        self.note.setText(problem or "")
        self.note.setVisible(bool(problem))
