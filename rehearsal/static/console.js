// The rehearsal console's only script of its own (htmx does the rest).
// - In a cell being edited, Enter saves and Escape cancels, as in Google
//   Sheets; Alt+Enter (or Shift+Enter) starts a new line in the cell.
// - A change that cannot reach the console (stopped, restarted) or that it
//   answers with an error is said in a line at the top, never lost silently.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (!field.closest || !field.closest("td.editing")) return;
    var form = field.closest("form");
    if (event.key === "Escape") {
      event.preventDefault();
      var cancel = form.querySelector("button[type=button]");
      if (cancel) cancel.click();
    } else if (event.key === "Enter" && field.tagName === "TEXTAREA" && !event.altKey && !event.shiftKey &&
               !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "Enter" && event.altKey && field.tagName === "TEXTAREA") {
      event.preventDefault();
      field.setRangeText("\n", field.selectionStart, field.selectionEnd, "end");
    }
  });

  // An editor opened near the grid's right edge opens leftwards, inside the grid.
  document.addEventListener("htmx:afterSwap", function (event) {
    var editor = document.querySelector("td.editing");
    var wrap = editor && editor.closest(".grid-wrap");
    if (!editor || !wrap) return;
    var form = editor.querySelector("form");
    if (form.getBoundingClientRect().right > wrap.getBoundingClientRect().right) {
      editor.classList.add("leftward");
    }
    var field = form.querySelector("textarea[name=v]");
    if (field) {
      field.focus();
      field.setSelectionRange(field.value.length, field.value.length);
    }
  });

  function say(text) {
    var line = document.getElementById("console-problem");
    if (!line) return;
    line.textContent = text;
    line.hidden = false;
  }
  document.addEventListener("htmx:sendError", function () {
    say("Không kết nối được bảng điều khiển diễn tập (có thể lệnh đã dừng hoặc đang khởi động lại): " +
        "thay đổi vừa rồi chưa được ghi. Khởi động lại lệnh rồi mở lại đường dẫn nó in ra.");
  });
  document.addEventListener("htmx:responseError", function (event) {
    say("Bảng điều khiển diễn tập trả lời lỗi (mã " + event.detail.xhr.status + "): thay đổi vừa rồi " +
        "có thể chưa được ghi. Tải lại trang rồi làm lại.");
  });
})();
