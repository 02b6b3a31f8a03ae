// placeholder, written next
export async function render(root) {
  root.textContent = "masks";
}
