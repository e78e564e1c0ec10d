"""Domain errors of the ticket lifecycle, with the message an officer sees (Vietnamese).

The web layer maps every `TicketError` to a flash message or a 4xx answer showing `message`;
`str(error)` is the same text, so logs read the same as the screen.
"""

from __future__ import annotations


class TicketError(Exception):
    """A ticket action cannot be done as asked."""

    message = "Không thể thực hiện thao tác này với phiếu."

    def __init__(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(self.message)


class NoteRequired(TicketError):
    message = "Cần ghi nội dung trả lời trước khi đóng phiếu."


class ReasonRequired(TicketError):
    message = "Cần ghi lý do thay đổi."


class EmptyText(TicketError):
    message = "Nội dung không được để trống."


class TicketClosed(TicketError):
    message = "Phiếu đã được giải quyết, không thể thay đổi."


class NotAllowed(TicketError):
    message = "Bạn không có quyền xử lý phiếu này."


class AlreadyClaimed(TicketError):
    message = "Phiếu đang do cán bộ khác phụ trách."


class NotOwner(TicketError):
    message = "Chỉ người đang phụ trách phiếu mới trả phiếu về nhóm được."


class UnknownDepartment(TicketError):
    message = "Không tìm thấy đơn vị này."


class UnknownTopic(TicketError):
    message = "Không tìm thấy chủ đề này."


class InvalidOutcome(TicketError):
    message = "Kết quả cuộc gọi không hợp lệ."


class NoStaffPhone(TicketError):
    message = "Tài khoản của bạn chưa có số điện thoại để tổng đài gọi vào; hãy gọi trực tiếp."


class NoCallbackNumber(TicketError):
    message = "Phiếu không có số điện thoại hợp lệ để gọi lại."


class DialFailed(TicketError):
    message = "Tổng đài không thực hiện được cuộc gọi; hãy gọi trực tiếp rồi ghi kết quả."
