import { decisionRoute } from "../approval-decision.js";

export const { route, register } = decisionRoute("approve");
